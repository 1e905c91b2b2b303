"""PostgreSQL-only indexes for the fan list at scale; a no-op elsewhere.

The fan filter's `q` is `display_name ILIKE %q%` or `notes ILIKE %q%` (Django writes icontains as
UPPER(col) LIKE UPPER(%q%)); a trigram GIN index on the same expressions turns a 1M-row scan into an index
lookup. pg_trgm ships with PostgreSQL's contrib; if the role cannot create it, the indexes are skipped.
"""

from django.db import migrations
from core.db import is_postgresql

INDEXES = [
    ("fan_display_name_trgm", "fans_fan", 'UPPER("display_name"::text) gin_trgm_ops'),
    ("fan_notes_trgm", "fans_fan", 'UPPER("notes"::text) gin_trgm_ops'),
]


def forwards(apps, schema_editor):
    # Superseded by 0009: the fan search ORs name, notes and username, so these indexes were never used,
    # while every fan update paid for them. Kept as a no-op so the migration history stays intact.
    return
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cur.fetchone() is None:
            cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
            if cur.fetchone() is None:
                return
            cur.execute("SAVEPOINT fansi_trgm")
            try:
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception:  # noqa: BLE001 - no privilege: the fan list still works, by scanning
                cur.execute("ROLLBACK TO SAVEPOINT fansi_trgm")
                return
            cur.execute("RELEASE SAVEPOINT fansi_trgm")
        for name, table, expression in INDEXES:
            cur.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ({expression})')


def backwards(apps, schema_editor):
    if not is_postgresql(schema_editor.connection):
        return
    with schema_editor.connection.cursor() as cur:
        for name, _table, _expression in INDEXES:
            cur.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("fans", "0003_starter_vocabulary")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
