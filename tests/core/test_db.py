"""core.db: the vendor helpers and the any_of lookup answer like `__in` on every back end."""

import pytest

from core.db import is_postgresql, sql_in
from fans.bot.models import PromoDelivery
from fans.chat.models import Fan
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


def test_any_of_matches_in_for_fields_and_foreign_keys(shop):
    fans = [FanFactory(shop=shop) for _ in range(4)]
    wanted = [fans[0].pk, fans[2].pk, 10**9]
    assert set(Fan.objects.filter(pk__any_of=wanted).values_list("pk", flat=True)) == {fans[0].pk, fans[2].pk}
    assert Fan.objects.filter(shop__any_of=[shop.pk]).count() == 4
    assert not Fan.objects.filter(pk__any_of=[]).exists()
    PromoDelivery.objects.create(fan=fans[1], source="broadcast", status="sent", created_at=fans[1].joined_at)
    assert list(
        PromoDelivery.objects.filter(fan_id__any_of=[fans[1].pk]).values_list("fan_id", flat=True)
    ) == [fans[1].pk]
    assert set(Fan.objects.filter(pk__any_of=wanted)) == set(Fan.objects.filter(pk__in=wanted))


def test_sql_in_uses_one_array_on_postgresql_and_placeholders_elsewhere():
    where, params = sql_in("c.id", [3, 1, 2])
    if is_postgresql():
        assert (where, params) == ("c.id = ANY(%s)", [[3, 1, 2]])
    else:
        assert (where, params) == ("c.id IN (%s, %s, %s)", [3, 1, 2])
