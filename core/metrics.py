"""Fansi's own Prometheus metrics (docs/metrics.md). Request and database metrics come from django-prometheus.

Every call site is one line (`metrics.pledge_placed()`), so the hot paths stay readable. Several ASGI processes
and Celery workers each count in their own process; with PROMETHEUS_MULTIPROC_DIR set (production, make
serve-prod) prometheus_client writes every process's values to files there and `manage.py metrics_server`
adds them up at scrape time. Gauges say how processes combine: `livesum` for open sockets (the sum over live
processes), `max` for the model version served.

/metrics is never on the public site: only `manage.py metrics_server` on an internal port serves it.
"""

import atexit
import os
import threading

from django.db import transaction
from prometheus_client import Counter, Gauge, multiprocess

MESSAGES_PERSISTED = Counter(
    "fansi_messages_persisted", "Chat messages stored (after commit), by kind and side.", ["kind", "side"]
)
WEBSOCKETS_OPEN = Gauge(
    "fansi_websocket_connections", "Websocket connections open now.", multiprocess_mode="livesum"
)
WEBSOCKETS_OPENED = Counter("fansi_websocket_connections_opened", "Websocket connections accepted.")
PLEDGES_PLACED = Counter("fansi_pledges_placed", "Pledges placed (deposit confirmed, not replays).")
BROADCAST_SENDS = Counter("fansi_broadcast_sends", "Broadcast deliveries sent to a fan.")
MODEL_VERSION = Gauge(
    "fansi_recommend_model_version_info",
    "1 for the recommendation model version this process serves ('-': none).",
    ["version"],
    multiprocess_mode="max",
)

_version_lock = threading.Lock()
_version_served: list[str] = []


def messages_persisted(items: list) -> None:
    """chat's message_persisted_listeners: the messages one transaction stored."""
    for item in items:
        MESSAGES_PERSISTED.labels(kind=getattr(item, "kind", "") or "text", side=item.side or "").inc()


def websocket_opened() -> None:
    WEBSOCKETS_OPEN.inc()
    WEBSOCKETS_OPENED.inc()


def websocket_closed() -> None:
    WEBSOCKETS_OPEN.dec()


def pledge_placed() -> None:
    PLEDGES_PLACED.inc()


def broadcast_sent(count: int) -> None:
    """Counted once the deliveries' transaction commits (at once outside one)."""
    if count:
        transaction.on_commit(lambda: BROADCAST_SENDS.inc(count))


def model_version_served(version: str) -> None:
    """The serving model this process loaded; the one before drops to 0."""
    with _version_lock:
        for old in _version_served:
            if old != version:
                MODEL_VERSION.labels(version=old).set(0)
        _version_served[:] = [version]
        MODEL_VERSION.labels(version=version).set(1)


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A process that exits leaves its counters (they add up) but not its share of the live gauges.
    atexit.register(lambda: multiprocess.mark_process_dead(os.getpid()))
