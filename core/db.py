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


def sql_in(column: str, values: list[Any], connection: Any = None) -> tuple[str, list[Any]]:
    """`column IN (...)` as SQL and parameters: one array parameter on PostgreSQL, so a statement over
    thousands of ids is neither thousands of placeholders to parse nor a new statement per size."""
    if is_postgresql(connection):
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)
