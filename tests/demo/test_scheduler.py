"""The demo's in-process clock (demo/scheduler.py) runs the real beat schedule: a campaign past its deadline is
closed by one tick, nothing runs again before its interval, and a failing job does not stop the others."""

import datetime as dt

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from demo import scheduler
from demo.scheduler import InProcessBeat
from preorders.models import Campaign, Pledge
from preorders.services import pledge_place
from tests.factories import FanFactory
from tests.preorders.conftest import expire, make_campaign, shop_product

pytestmark = pytest.mark.django_db


def test_one_tick_closes_a_campaign_past_its_deadline(owner, shop):
    product, variant, _ = shop_product(shop)
    campaign = make_campaign(owner, product, target_quantity=2, cap=5, tiers=[])
    for fan in (FanFactory(shop=shop), FanFactory(shop=shop)):
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)
    expire(campaign)
    beat = InProcessBeat(recycle_connections=False)
    assert {e.name for e in beat.entries} == set(settings.CELERY_BEAT_SCHEDULE)
    ran = beat.tick()
    assert "preorders-close-due" in ran
    assert "recommend-nightly-train" not in ran  # a crontab job waits for its time
    campaign.refresh_from_db()
    assert campaign.status == "succeeded" and campaign.closed_at is not None
    assert set(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"confirmed"}
    assert beat.tick() == []  # nothing is due again before its interval


def test_a_due_entry_runs_again_after_its_interval(owner, shop):
    beat = InProcessBeat(
        {"close": {"task": "preorders.tasks.campaigns_close_due_task", "schedule": 60.0}},
        recycle_connections=False,
    )
    assert beat.tick() == ["close"]
    beat.entries[0].last_run = timezone.now() - dt.timedelta(seconds=61)
    assert beat.tick() == ["close"]


def test_a_failing_job_is_logged_and_the_others_still_run(owner, shop, monkeypatch):
    product, variant, _ = shop_product(shop)
    campaign = make_campaign(owner, product, target_quantity=1, cap=5, tiers=[])
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    beat = InProcessBeat(
        {
            "broken": {"task": "payments.tasks.no_such_task", "schedule": 30.0},
            "close": {"task": "preorders.tasks.campaigns_close_due_task", "schedule": 60.0},
        },
        recycle_connections=False,
    )
    logged = []
    monkeypatch.setattr(scheduler.logger, "exception", lambda msg, *args: logged.append(msg % args))
    assert beat.tick() == ["broken", "close"]
    assert logged == ["scheduled job broken (payments.tasks.no_such_task) failed"]
    campaign.refresh_from_db()
    assert campaign.status == "failed" and campaign.closed_at is not None  # no pledges: below the target


def test_serve_demo_is_a_command():
    from django.core.management import get_commands

    assert get_commands()["serve_demo"] == "demo"
    with pytest.raises(SystemExit):
        call_command("serve_demo", "--help")
