"""Production: refuses to start without SECRET_KEY and ALLOWED_HOSTS."""

import os

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403

if not os.environ.get("SECRET_KEY"):
    raise ImproperlyConfigured("SECRET_KEY must be set in production.")
if not os.environ.get("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production (comma-separated).")

DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Served over HTTPS behind a proxy (secure cookies above). FANSI_SSL_REDIRECT=0 where the proxy redirects.
SECURE_SSL_REDIRECT = os.environ.get("FANSI_SSL_REDIRECT", "1") == "1"
SECURE_HSTS_SECONDS = int(os.environ.get("FANSI_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("FANSI_HSTS_SUBDOMAINS", "1") == "1"
SECURE_HSTS_PRELOAD = os.environ.get("FANSI_HSTS_PRELOAD", "0") == "1"
if not SECURE_HSTS_PRELOAD:
    # Preloading is a submission to the browser vendors' lists, a deployment's own decision.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
