"""Every difference between database vendors, behind small functions (the only place that reads
`connection.vendor`). PostgreSQL is production; SQLite is the embedded default for `make demo`."""

from typing import Any

from django.db import connection as default_connection
from django.db.models import Field, ForeignObject, Lookup


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


class AnyOf(Lookup):
    """`field__any_of=[ids]`: `IN (...)`, as one array parameter on PostgreSQL (`= ANY(%s)`).

    A batch of 2,000 ids as `__in` costs Django and the driver thousands of placeholders to build and
    parse on every statement (measured on the broadcast path, bench/broadcast.py)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [self.lhs.output_field.get_db_prep_value(v, connection) for v in self.rhs]
        if not values:
            return "1 = 0", []
        where, params = sql_in(lhs, values, connection)
        return where, [*lhs_params, *params]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # foreign keys keep lookups of their own
