"""Lifecycle tags applied in bounded batches (fans.crm.lifecycle_apply, PostgreSQL): many batches give the same
tags as one, a run killed between batches leaves every fan whole and the next run completes it, and a fan tagged
by hand between the computation and its batch keeps that tag."""

import pytest
from django.db import connection
from django.utils import timezone

from core.db import is_postgresql
from fans.chat.models import Fan
from fans.crm import lifecycle_apply
from fans.crm.lifecycle import lifecycle_recompute
from fans.crm.models import FanTag, FanTagEvent, TagSource
from tests.fans.crm.lifecycle_seed import reference_tags, seed_shop
from tests.fans.crm.test_lifecycle import assert_stores_consistent, held

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_services")]


@pytest.fixture
def small_batches(monkeypatch):
    if not is_postgresql(connection):
        pytest.fail("the batched apply is PostgreSQL's (run with DATABASE_URL)")
    monkeypatch.setattr(lifecycle_apply, "BATCH_FANS", 7)
    calls = []
    real = lifecycle_apply._apply_batch

    def counted(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle_apply, "_apply_batch", counted)
    return calls


def test_many_batches_match_the_reference_and_keep_every_store(shop, small_batches):
    now = timezone.now()
    seed_shop(shop, n=60, now=now)
    result = lifecycle_recompute(shop, now=now)
    assert len(small_batches) == 9  # 60 fans changed, 7 a batch
    lows = [low for low, _ in small_batches]
    highs = [high for _, high in small_batches]
    assert lows[0] is None and highs[-1] is None and lows[1:] == highs[:-1]  # contiguous, no gap or overlap
    expected = reference_tags(shop, now)
    assert held(shop) == expected
    assert result["added"] == sum(len(c) for c in expected.values()) and result["removed"] == 0
    assert_stores_consistent(shop)
    events = FanTagEvent.objects.count()
    small_batches.clear()
    assert (lifecycle_recompute(shop, now=now)["added"], FanTagEvent.objects.count()) == (0, events)
    assert small_batches == []  # nothing changed: no batch at all


def test_a_run_killed_between_batches_leaves_whole_fans_and_the_next_run_completes(
    shop, small_batches, monkeypatch
):
    now = timezone.now()
    seed_shop(shop, n=40, now=now)
    real = lifecycle_apply._apply_batch

    def dies_on_the_third(*args, **kwargs):
        if len(small_batches) == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle_apply, "_apply_batch", dies_on_the_third)
    with pytest.raises(RuntimeError):
        lifecycle_recompute(shop, now=now)
    expected = reference_tags(shop, now)
    got = held(shop)
    done = {fan for fan, codes in got.items() if codes}
    assert len(done) == 14  # two whole batches of 7 fans
    assert all(got[fan] == expected[fan] for fan in done)  # never half-written
    assert_stores_consistent(shop)
    monkeypatch.setattr(lifecycle_apply, "_apply_batch", real)
    result = lifecycle_recompute(shop, now=now)
    assert held(shop) == expected
    assert result["added"] == sum(len(expected[f]) for f in expected if f not in done)
    assert_stores_consistent(shop)
    # One add event per tag held: the resumed run did not repeat the first two batches.
    adds = FanTagEvent.objects.filter(fan__shop=shop, source=TagSource.SYSTEM, action=FanTagEvent.ADD)
    assert adds.count() == sum(len(c) for c in expected.values())


def test_a_hand_tag_set_between_the_computation_and_its_batch_is_kept(shop, small_batches, monkeypatch):
    from fans.crm.services.tagging import fan_tags_change
    from fans.crm.vocabulary import tags_resolve

    now = timezone.now()
    seed_shop(shop, n=20, now=now)
    last = Fan.objects.filter(shop=shop).order_by("-pk").first()  # in the last batch
    real = lifecycle_apply._apply_batch

    def tag_meanwhile(*args, **kwargs):
        if len(small_batches) == 1:
            fan_tags_change(
                fan=last, add=tags_resolve(shop, ["skin_type:oily"]), source=TagSource.OWNER, actor=None
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle_apply, "_apply_batch", tag_meanwhile)
    lifecycle_recompute(shop, now=now)
    assert FanTag.objects.filter(fan=last, tag__code="oily").exists()
    assert held(shop) == reference_tags(shop, now)
    assert_stores_consistent(shop)
