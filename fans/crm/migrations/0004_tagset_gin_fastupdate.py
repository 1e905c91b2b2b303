"""The tag-set GIN index takes new entries through its pending list (fastupdate on, PostgreSQL's default).

Every new FanTagSet row version adds one GIN entry per tag it holds (a tags update is never HOT: the covering
index fantagset_shop_joined includes the tags). With fastupdate off each entry went straight into its posting
tree, one at a time; with the pending list they are appended and merged into the trees in sorted batches each
time the list passes gin_pending_list_limit (4MB by default), so at most a few MB are scanned by readers. The
first lifecycle computation of 1M fans (bench/lifecycle.py, every fan's row rewritten) measured 85 s for the
FanTagSet update with fastupdate off, 33 s with it on (34 s with no GIN index at all).
"""

from django.db import migrations

from core.db import is_postgresql


def _fastupdate(on: bool):
    def run(apps, schema_editor):
        if not is_postgresql(schema_editor.connection):
            return
        with schema_editor.connection.cursor() as cur:
            cur.execute(f"ALTER INDEX IF EXISTS fantagset_tags_gin SET (fastupdate = {'on' if on else 'off'})")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0003_lifecycle"),
        ("fans", "0011_tag_sets"),
    ]

    operations = [migrations.RunPython(_fastupdate(True), _fastupdate(False))]
