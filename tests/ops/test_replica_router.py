"""core/replica.py without a replica, and its write detection (the replica itself: test_replica.py)."""

import pytest
from django.db import connections

from core.replica import _WRITE, _wrote_var, read_alias, replica_reads, wrote_primary
from tests.factories import FanFactory


def test_without_a_replica_everything_reads_the_primary(db):
    assert "replica" not in connections.settings
    with replica_reads():
        assert read_alias() == "default"
    with replica_reads(independent=True):
        assert read_alias() == "default"


@pytest.mark.parametrize(
    "sql,writes",
    [
        ("SELECT 1", False),
        ('  select "fans_fan"."id" from "fans_fan"', False),
        ("SHOW server_version", False),
        ('INSERT INTO "fans_fan" ...', True),
        ("update fans_fan set x = 1", True),
        ("DELETE FROM x", True),
        ("WITH moved AS (UPDATE x SET y = 1 RETURNING id) SELECT id FROM moved", True),
        ("SELECT id FROM x WHERE id = 1 FOR UPDATE", True),
        ("SELECT id FROM x FOR NO KEY UPDATE", True),
        ("COPY (SELECT 1) TO STDOUT", False),
        ("COPY x FROM STDIN", True),
    ],
)
def test_write_statements_are_recognised(sql, writes):
    assert bool(_WRITE.match(sql)) is writes


def test_a_write_on_the_primary_marks_the_context(db):
    import contextvars

    def run() -> tuple[bool, bool]:
        _wrote_var.set(False)  # as ReplicaMiddleware starts each request
        FanFactory.build()  # building is no write
        before = wrote_primary()
        FanFactory()
        return before, wrote_primary()

    assert contextvars.copy_context().run(run) == (False, True)
