"""A broadcast is marketing by definition: opt-out, quiet hours and the budget always apply, whatever
its `promotional` flag says, and a shop's broadcasts are rate-limited."""

import pytest
from django.db import transaction

from fans.bot.models import BotSettings, Broadcast, PromoDelivery
from fans.bot.services.broadcasts import BROADCASTS_PER_HOUR
from fans.chat.models import Fan, Message
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db(transaction=True)


def broadcast(api, shop, fans, text="SALE", **extra):
    return api.post(
        "/api/broadcasts/",
        {"shop": shop.pk, "kind": "text", "text": text, "fan_ids": [f.pk for f in fans], **extra},
        format="json",
    )


def test_promotional_false_does_not_bypass_opt_out(api_for, shop, owner):
    BotSettings.objects.create(shop=shop, quiet_start="00:00", quiet_end="00:00", promo_per_day=5)
    opted_out = FanFactory(shop=shop)
    Fan.objects.filter(pk=opted_out.pk).update(promotions_opt_out=True)
    listener = FanFactory(shop=shop)
    response = broadcast(api_for(owner), shop, [opted_out, listener], promotional=False)
    assert response.status_code == 201, response.content
    assert not Message.objects.filter(conversation__fan=opted_out).exists()
    assert Message.objects.filter(conversation__fan=listener, text="SALE").count() == 1
    assert PromoDelivery.objects.get(fan=opted_out).status == "skipped_opt_out"


def test_broadcasts_are_rate_limited_per_shop(api_for, shop, owner):
    BotSettings.objects.create(
        shop=shop, quiet_start="00:00", quiet_end="00:00", promo_per_day=50, promo_per_week=50
    )
    fan = FanFactory(shop=shop)
    api = api_for(owner)
    for i in range(BROADCASTS_PER_HOUR):
        assert broadcast(api, shop, [fan], text=f"SALE {i}").status_code == 201
    refused = broadcast(api, shop, [fan], text="SALE again")
    assert refused.status_code == 429
    assert refused.json()["code"] == "broadcast_rate_limited"
    assert Broadcast.objects.count() == BROADCASTS_PER_HOUR
    with transaction.atomic():
        assert not Message.objects.filter(text="SALE again").exists()
