"""Settings, part 2: JSON logs, Prometheus metrics, the read replica and backups (issue 17; docs/metrics.md).

Built on config.settings.core; config.settings.base puts the parts together."""

import os
from pathlib import Path

import dj_database_url

from config.settings.core import *  # noqa: F403
from config.settings.core import (
    DATABASE_URL,
    DATABASES,
    INSTALLED_APPS,
    MIDDLEWARE,
    VAR_DIR,
    env_bool,
    env_list,
)

# --- Observability (issue 17; docs/metrics.md) ---------------------------------------------------
# JSON lines with request id / websocket connection id / task, tokens redacted (core/logs.py);
# FANSI_LOG_FORMAT=text for a terminal.
from core.logs import logging_config  # noqa: E402

LOGGING = logging_config(
    os.environ.get("FANSI_LOG_LEVEL", "WARNING"), os.environ.get("FANSI_LOG_FORMAT", "json")
)
# Workers log through LOGGING too (JSON, request id, redaction), not Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Prometheus: django-prometheus's request and database metrics around everything, the request id next
# (core/request_id.py). /metrics is served only by `manage.py metrics_server` on an internal port.
INSTALLED_APPS += ["django_prometheus"]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.request_id.RequestIdMiddleware",
    "core.replica.ReplicaMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# Database metrics wrap the backend (django_prometheus.db.backends.postgresql): production.py turns them on,
# FANSI_DB_METRICS=1 anywhere else (off by default, so the chat bench measures the plain backend).
FANSI_DB_METRICS = env_bool("FANSI_DB_METRICS", False)
if FANSI_DB_METRICS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
# Read scaling (core/replica.py): heavy read-only selectors go to "replica" when DATABASE_REPLICA_URL is set.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL and DATABASE_URL:
    DATABASES["replica"] = {
        **dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60),
        "ENGINE": DATABASES["default"]["ENGINE"],
        "ATOMIC_REQUESTS": False,
        # A physical copy: its test database is the primary's, never created or dropped by the tests.
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
# The Celery queues whose depth metrics_server reads from Redis at each scrape.
FANSI_METRICS_CELERY_QUEUES = env_list("FANSI_METRICS_CELERY_QUEUES", ["celery"])
# Backups (docs/backups.md, manage.py backup_check): where the dumps are.
FANSI_BACKUP_DIR = Path(os.environ.get("FANSI_BACKUP_DIR", VAR_DIR / "backups"))
