"""Read scaling (docs/deploy.md, issue 17): heavy read-only selectors read from a streaming replica.

Explicit, never global: a call site opts in with `with replica_reads():` (ORM queries inside go to the
"replica" alias through ReplicaRouter) and raw-SQL selectors take their connection from `read_connection()`.
Everything else, and every write, stays on "default". Without DATABASE_REPLICA_URL both are "default".

Read-your-writes: once this request (or Celery task) has written to the primary, its reads stay on the
primary, so it never reads older data than it wrote. The flag is a contextvar set by an execute wrapper on the
primary's connections (any statement that is not a plain read), reset per request by ReplicaMiddleware and per
task by task_prerun. Inside a transaction on the primary, reads stay there too.

The seen-writes rule is per request: a later request of the same person may read the replica before it caught
up (usually milliseconds; `pg_stat_replication.replay_lag` says). The pages routed here tolerate that.
"""

import contextvars
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import signals
from django.db import connections
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
PRIMARY = "default"

# "": the primary; "fresh": the replica unless this context wrote or is in a transaction; "any": the replica.
_reads_var: contextvars.ContextVar[str] = contextvars.ContextVar("fansi_replica_reads", default="")
_wrote_var: contextvars.ContextVar[bool] = contextvars.ContextVar("fansi_wrote_primary", default=False)
# A statement that may change data: anything but SELECT / SHOW / SET / EXPLAIN / FETCH and the like.
_WRITE = re.compile(
    r"^\s*(?:INSERT|UPDATE|DELETE|MERGE|COPY\s+\S+\s+FROM|CREATE|ALTER|DROP|TRUNCATE|LOCK|WITH|GRANT|REVOKE|"
    r"REFRESH|VACUUM|ANALYZE|CLUSTER|REINDEX|CALL|DO|NOTIFY|SELECT\b[\s\S]*\bFOR\s+(?:NO\s+KEY\s+)?UPDATE)",
    re.IGNORECASE,
)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def wrote_primary() -> bool:
    return _wrote_var.get()


def mark_wrote() -> None:
    _wrote_var.set(True)


def read_alias() -> str:
    """Where a read inside the current context goes: the replica only inside replica_reads(), with a replica
    configured, nothing written yet in this request or task, and no transaction open on the primary."""
    mode = _reads_var.get()
    if not mode or not replica_configured():
        return PRIMARY
    if mode == "any":
        return REPLICA
    if _wrote_var.get():
        return PRIMARY
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY
    return REPLICA


def read_connection() -> Any:
    """The connection a raw-SQL read selector uses (`read_connection().cursor()`)."""
    return connections[read_alias()]


@contextmanager
def replica_reads(*, independent: bool = False) -> Iterator[None]:
    """Reads in this block may go to the replica (ORM through the router, raw SQL via read_connection()).

    independent=True: these reads do not depend on what this context wrote or has open (an export's rows,
    read between its own progress updates), so they go to the replica even then."""
    token = _reads_var.set("any" if independent else "fresh")
    try:
        yield
    finally:
        _reads_var.reset(token)


class ReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        alias = read_alias()
        return alias if alias != PRIMARY else None

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two copies of it

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY


def _write_watch(execute: Callable, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    if not _wrote_var.get() and _WRITE.match(sql if isinstance(sql, str) else str(sql)):
        _wrote_var.set(True)
    return execute(sql, params, many, context)


def _watch_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.alias == PRIMARY and _write_watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_write_watch)


def install() -> None:
    """core.apps.ready(): watch the primary's connections for writes (once per connection object)."""
    connection_created.connect(_watch_connection, dispatch_uid="fansi-replica-write-watch")
    _watch_connection(None, connections[PRIMARY])


class ReplicaMiddleware:
    """Each request starts with nothing written (read-your-writes is per request)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _wrote_var.set(False)
        try:
            return self.get_response(request)
        finally:
            _wrote_var.reset(token)


@signals.task_prerun.connect(weak=False)
def _task_starts_clean(task: Any = None, **_kwargs: Any) -> None:
    """A worker's task starts with nothing written; an eager one runs inside its caller and keeps its flag."""
    if task is not None and not getattr(task.request, "is_eager", False):
        _wrote_var.set(False)
