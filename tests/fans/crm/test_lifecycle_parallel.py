"""Lifecycle batches on two connections at once (fans.crm.lifecycle_apply.WORKERS, PostgreSQL, outside a caller's
transaction): the same tags as one connection, two batches really in flight together, whole batches when one
fails, and no table left behind."""

import importlib
import threading

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from core.db import is_postgresql
from fans.crm import lifecycle_apply
from fans.crm.lifecycle import lifecycle_recompute
from tests.fans.crm.lifecycle_seed import reference_tags, seed_shop
from tests.fans.crm.test_lifecycle import assert_stores_consistent, held

# Committed data, so the workers' connections see it.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("require_services")]


@pytest.fixture
def two_workers(monkeypatch):
    if not is_postgresql(connection):
        pytest.fail("the batched apply is PostgreSQL's (run with DATABASE_URL)")
    # The shipped lifecycle tags, as migration crm 0003 loads them: an earlier transactional test's flush
    # empties the tables that migrations filled.
    importlib.import_module("fans.crm.migrations.0003_lifecycle").lifecycle_load(apps, None)
    monkeypatch.setattr(lifecycle_apply, "BATCH_FANS", 6)
    monkeypatch.setattr(lifecycle_apply, "WORKERS", 2)


def diff_table_exists(shop) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f"lc_diff_{shop.pk}"])
        return cur.fetchone()[0]


def test_two_connections_give_the_reference_tags(shop, two_workers, monkeypatch):
    now = timezone.now()
    seed_shop(shop, n=36, now=now)
    real = lifecycle_apply._apply_batch
    both = threading.Barrier(2, timeout=20)  # broken (the test fails) unless two batches overlap
    seen = []

    def overlapping(*args, **kwargs):
        seen.append(threading.current_thread().name)
        if len(seen) <= 2:
            both.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle_apply, "_apply_batch", overlapping)
    result = lifecycle_recompute(shop, now=now)
    # 36 changed fans, a bound every 6th: 7 ranges, the last open-ended one past the last fan.
    assert len(seen) == 7 and all(name.startswith("lifecycle") for name in seen)
    assert len(set(seen[:2])) == 2
    expected = reference_tags(shop, now)
    assert held(shop) == expected
    assert result["added"] == sum(len(c) for c in expected.values())
    assert_stores_consistent(shop)
    assert not diff_table_exists(shop)
    assert lifecycle_recompute(shop, now=now)["added"] == 0


def test_a_failing_batch_leaves_whole_batches_and_the_next_run_completes(shop, two_workers, monkeypatch):
    now = timezone.now()
    seed_shop(shop, n=36, now=now)
    real = lifecycle_apply._apply_batch
    calls = []
    lock = threading.Lock()

    def third_fails(*args, **kwargs):
        with lock:
            calls.append(args[1:3])
            n = len(calls)
        if n == 3:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle_apply, "_apply_batch", third_fails)
    with pytest.raises(RuntimeError):
        lifecycle_recompute(shop, now=now)
    expected = reference_tags(shop, now)
    got = held(shop)
    done = {fan for fan, codes in got.items() if codes}
    assert done and len(done) % 6 == 0 and len(done) < 36  # whole batches of 6 fans, not all of them
    assert all(got[fan] == expected[fan] for fan in done)
    assert_stores_consistent(shop)
    monkeypatch.setattr(lifecycle_apply, "_apply_batch", real)
    lifecycle_recompute(shop, now=now)
    assert held(shop) == expected
    assert_stores_consistent(shop)
    assert not diff_table_exists(shop)
