"""Production: refuses to start without a strong SECRET_KEY and ALLOWED_HOSTS."""

import os

from django.core.exceptions import ImproperlyConfigured

# Keys that are public: the development key this repository once committed.
KNOWN_SECRET_KEYS = {"fansi-dev-only-insecure-key-change-me"}


def secret_key_is_weak(key: str) -> bool:
    """Django's own deploy check (security.W009), plus keys known to be public."""
    return len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure") or key in KNOWN_SECRET_KEYS


problems = []
if not os.environ.get("SECRET_KEY"):
    problems.append("SECRET_KEY must be set in production.")
elif secret_key_is_weak(os.environ["SECRET_KEY"]):
    problems.append(
        "SECRET_KEY is too weak for production: use at least 50 random characters, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )
if not os.environ.get("ALLOWED_HOSTS"):
    problems.append("ALLOWED_HOSTS must be set in production (comma-separated).")
if problems:
    raise ImproperlyConfigured(" ".join(problems))

# Imported only once the key is known good: production never falls back to a generated local key.
from config.settings.base import *  # noqa: E402, F403
from config.settings.base import env_bool  # noqa: E402

DEBUG = False
FANSI_PUSH_PUBLIC_ENDPOINTS_ONLY = True  # https:// and public addresses only (reach/endpoints.py)
# Never the development pair from base.py: without its own keys a deployment offers no push (reach.W001).
FANSI_VAPID_PUBLIC_KEY = os.environ.get("FANSI_VAPID_PUBLIC_KEY", "")
FANSI_VAPID_PRIVATE_KEY = os.environ.get("FANSI_VAPID_PRIVATE_KEY", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
FANSI_SMS_DEBUG_CODES = False  # a code in the answer would let anyone sign in as any phone
FANSI_SERVE_FILES = env_bool("FANSI_SERVE_FILES", False)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Served over HTTPS behind a proxy (secure cookies above). FANSI_SSL_REDIRECT=0 where the proxy redirects.
SECURE_SSL_REDIRECT = os.environ.get("FANSI_SSL_REDIRECT", "1") == "1"
# --- deploy (issue 17): probes may ask an ASGI process directly over plain HTTP (systemd, a load balancer). ---
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# --- end deploy ---
SECURE_HSTS_SECONDS = int(os.environ.get("FANSI_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("FANSI_HSTS_SUBDOMAINS", "1") == "1"
SECURE_HSTS_PRELOAD = os.environ.get("FANSI_HSTS_PRELOAD", "0") == "1"
if not SECURE_HSTS_PRELOAD:
    # Preloading is a submission to the browser vendors' lists, a deployment's own decision.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Database metrics (docs/metrics.md): django-prometheus's backend, FANSI_DB_METRICS=0 to leave it out.
if env_bool("FANSI_DB_METRICS", True) and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"  # noqa: F405
    if "replica" in DATABASES:  # noqa: F405
        DATABASES["replica"]["ENGINE"] = DATABASES["default"]["ENGINE"]  # noqa: F405

# --- Hardening (issue 17) ---------------------------------------------------------------------------------
# Health checks answer over plain HTTP (load balancers, the deploy layout's probes); everything else redirects.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
SESSION_COOKIE_HTTPONLY = True
# Pages take the CSRF token from <meta name="csrf-token"> (fansi.js), never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
