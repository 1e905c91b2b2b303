"""Every difference between database vendors, behind small functions (the only place that reads
`connection.vendor`). PostgreSQL is production; SQLite is the embedded default for `make demo`."""

from typing import Any

from django.db import connection as default_connection


def is_postgresql(connection: Any = None) -> bool:
    """True on PostgreSQL, where set-based SQL (unnest, arrays, intarray, COPY) replaces per-row work."""
    return (connection or default_connection).vendor == "postgresql"


def vendor(connection: Any = None) -> str:
    """The vendor name, for caches keyed by it (converters, prepared statements)."""
    return (connection or default_connection).vendor
