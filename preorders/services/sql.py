"""Plain statements on the pledge hot paths: column names and values as the ORM would adapt them."""

from typing import Any


def column_values(model: type, values: dict[str, Any], connection: Any) -> tuple[list[str], list[Any]]:
    """Column names and backend-ready values for a plain INSERT (as the ORM would adapt them)."""
    fields = [model._meta.get_field(name) for name in values]
    return [f.column for f in fields], [
        f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)
    ]
