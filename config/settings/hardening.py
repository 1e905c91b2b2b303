"""Settings, part 3: sign-in throttling, expiring tokens, CSP, upload caps, the database pool (issue 17;
docs/security.md). Built on config.settings.observability; config.settings.base puts the parts together."""

import datetime as dt
import os

from config.settings.observability import *  # noqa: F403
from config.settings.observability import (
    DATABASES,
    FANSI_CLIENT_IP_HEADER,
    INSTALLED_APPS,
    MIDDLEWARE,
    env_bool,
)

# --- Hardening (issue 17): sign-in throttling, expiring tokens, CSP, upload caps, the database pool ----
# docs/security.md says what each does and how to operate it.
INSTALLED_APPS += ["axes", "csp"]
MIDDLEWARE.insert(1, "core.upload_limit.upload_limit_middleware")  # right after SecurityMiddleware
# Early, so every template rendered inside (error pages, the lockout page) can still take the nonce.
MIDDLEWARE.insert(2, "csp.middleware.CSPMiddleware")
MIDDLEWARE += [
    # Last, as django-axes requires: it turns a lockout flagged during the request into the lockout answer.
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "core.auth_throttle.FansiAxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
FANSI_LOGIN_USERNAME_FAILURES = int(os.environ.get("FANSI_LOGIN_USERNAME_FAILURES", "5"))
FANSI_LOGIN_PHONE_FAILURES = int(os.environ.get("FANSI_LOGIN_PHONE_FAILURES", "10"))
FANSI_LOGIN_IP_FAILURES = int(os.environ.get("FANSI_LOGIN_IP_FAILURES", "15"))
AXES_HANDLER = "core.auth_throttle.FansiAxesHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # limits per set: core/auth_throttle.py
AXES_FAILURE_LIMIT = FANSI_LOGIN_USERNAME_FAILURES
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("FANSI_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "core.auth_throttle.lockout_response"
# The client's address as the rest of the app sees it: X-Forwarded-For is never believed unless named.
AXES_IPWARE_META_PRECEDENCE_ORDER = [h for h in (FANSI_CLIENT_IP_HEADER, "REMOTE_ADDR") if h]
# API tokens live this many days from issue (0: forever); POST /api/auth/token/rotate/ replaces one.
FANSI_TOKEN_TTL_DAYS = int(os.environ.get("FANSI_TOKEN_TTL_DAYS", "30"))
# Content-Security-Policy (django-csp 4): no inline script or style; an inline <script> or <style> (the API
# docs, the factory order print page) carries nonce="{{ request.csp_nonce }}". Pages set widths by data-width.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],  # CSP 3: 'self' covers the same host's ws:// and wss://
        "worker-src": [SELF],
        "manifest-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
        **(
            {"report-uri": [os.environ["FANSI_CSP_REPORT_URI"]]}
            if os.environ.get("FANSI_CSP_REPORT_URI")
            else {}
        ),
    },
}
# Uploads: a request body over the cap is refused whole (nginx refuses it first in deploy/).
FANSI_MAX_UPLOAD_MB = int(os.environ.get("FANSI_MAX_UPLOAD_MB", "20"))
DATA_UPLOAD_MAX_MEMORY_SIZE = FANSI_MAX_UPLOAD_MB * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger files spool to a temporary file
# PostgreSQL: one bounded psycopg pool per process (Django 5.2's pool option) instead of a connection per
# thread; size it so processes x FANSI_DB_POOL_MAX stays under the server's max_connections (docs/deploy.md).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("FANSI_DB_POOL", True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool requires it: connections go back to the pool
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("FANSI_DB_POOL_MIN", "1")),
        "max_size": int(os.environ.get("FANSI_DB_POOL_MAX", "10")),
        "timeout": float(os.environ.get("FANSI_DB_POOL_TIMEOUT", "10")),
        "max_idle": 60.0,
    }
