"""FanTag.fan carries no database foreign key (bench/lifecycle.py: its per-row checks were a quarter of the first
lifecycle run for 1M fans), so the writers and Django's cascade keep the rows pointing at real fans."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from fans.chat.models import Fan
from fans.crm.lifecycle import lifecycle_recompute
from fans.crm.models import FanTag, FanTagEvent, FanTagSet, TagSource
from fans.crm.services.tagging import fan_tags_bulk_add
from fans.crm.vocabulary import tags_resolve
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


def test_a_bulk_add_skips_ids_of_fans_that_do_not_exist(shop, owner):
    fan = FanFactory(shop=shop)
    gone = FanFactory(shop=shop)
    gone_id = gone.pk
    gone.delete()
    [oily] = tags_resolve(shop, ["skin_type:oily"])
    created = fan_tags_bulk_add(fan_ids=[fan.pk, gone_id], tags=[oily], source=TagSource.OWNER, actor=owner)
    assert created == 1
    assert list(FanTag.objects.values_list("fan_id", flat=True)) == [fan.pk]
    assert not FanTagEvent.objects.filter(fan_id=gone_id).exists()
    assert not FanTagSet.objects.filter(fan_id=gone_id).exists()


def test_deleting_a_fan_deletes_its_tags(shop, owner):
    fan, other = FanFactory(shop=shop), FanFactory(shop=shop)
    tags = tags_resolve(shop, ["skin_type:dry", "preference:value"])
    fan_tags_bulk_add(fan_ids=[fan.pk, other.pk], tags=tags, source=TagSource.OWNER, actor=owner)
    assert FanTag.objects.filter(fan=fan).count() == 2
    Fan.objects.get(pk=fan.pk).delete()
    assert not FanTag.objects.filter(fan_id=fan.pk).exists()
    assert FanTag.objects.filter(fan=other).count() == 2


def test_lifecycle_tags_only_fans_that_exist(shop):
    fans = [FanFactory(shop=shop) for _ in range(3)]
    lifecycle_recompute(shop, now=timezone.now() + dt.timedelta(days=1))
    system = FanTag.objects.filter(source=TagSource.SYSTEM)
    assert set(system.values_list("fan_id", flat=True)) == {f.pk for f in fans}
    # No row of any writer points at a missing fan.
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM fans_fantag ft LEFT JOIN fans_fan f ON f.id = ft.fan_id WHERE f.id IS NULL"
        )
        assert cur.fetchone()[0] == 0
