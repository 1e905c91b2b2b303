"""Drop the trigram indexes of 0004 where they were built: the fan search (name OR notes OR username) cannot
use them, and they made every fan update (tag_ids, notes, assignment) write two large GIN entries."""

from django.db import migrations
from core.db import is_postgresql


def forwards(apps, schema_editor):
    if not is_postgresql(schema_editor.connection):
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute('DROP INDEX IF EXISTS "fan_display_name_trgm"')
        cur.execute('DROP INDEX IF EXISTS "fan_notes_trgm"')


class Migration(migrations.Migration):
    dependencies = [("fans", "0008_tag_event_log")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
