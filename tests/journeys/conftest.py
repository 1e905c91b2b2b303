import datetime as dt

import pytest
from celery import current_app
from django.utils import timezone

from fans.bot.models import BotSettings
from journeys.models import Journey, Template
from journeys.services import runner, triggers
from journeys.services.templates import journeys_ensure
from tests.preorders.conftest import provider  # noqa: F401 - the simulated provider, reset per test


def set_hours(shop, *, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0), per_day=1, per_week=3):
    return BotSettings.objects.update_or_create(
        shop=shop,
        defaults={
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
            "promo_per_day": per_day,
            "promo_per_week": per_week,
        },
    )[0]


@pytest.fixture
def open_hours(shop):
    """No quiet hours: the tests must not depend on the hour they run at."""
    return set_hours(shop)


def enable(shop, template: str, *, since: dt.timedelta = dt.timedelta(hours=1)) -> Journey:
    """A ready-made journey turned on `since` ago (so events in the test's past enroll)."""
    journeys_ensure(shop, language="zh-hans")
    journey = Journey.objects.get(shop=shop, template=template)
    Journey.objects.filter(pk=journey.pk).update(enabled=True, enabled_at=timezone.now() - since)
    journey.refresh_from_db()
    return journey


def beat(now=None):
    """Both beat entries, by their registered names when `now` is the real clock."""
    if now is None:
        enrolled = current_app.tasks["journeys.tasks.journeys_enroll_task"].apply().get()
        advanced = current_app.tasks["journeys.tasks.journeys_advance_task"].apply().get()
        return enrolled, advanced
    return triggers.journeys_enroll(now=now), runner.journeys_advance(now=now)


__all__ = ["Template", "beat", "enable", "set_hours"]
