"""/campaign drafts and the bot's progress answer, through the real configuration (HTTP, AppConfig hooks)."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from fans.bot.models import BotSettings
from fans.chat.models import Message
from fans.crm.models import Tag
from fans.crm.services.tagging import fan_tags_change
from preorders.services import pledge_place
from recommend.models import ProductTag
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign, shop_product

pytestmark = pytest.mark.django_db


def test_campaign_command_drafts_live_campaigns_ranked_for_the_fan(api_for, shop, owner, fan, no_quiet_hours):
    p1, *_ = shop_product(shop)
    p2, *_ = shop_product(shop)
    p3, v3, _v = shop_product(shop)
    sooner = make_campaign(
        owner, p1, title="早截止", deadline=(timezone.now() + dt.timedelta(days=8)).isoformat()
    )
    matching = make_campaign(
        owner, p2, title="适合油皮", deadline=(timezone.now() + dt.timedelta(days=9)).isoformat()
    )
    joined = make_campaign(owner, p3, title="已参加")
    make_campaign(owner, p1, title="草稿", launch=False)
    oily = Tag.objects.get(group__code="skin_type", group__shop__isnull=True, code="oily")
    ProductTag.objects.create(product=p2, tag=oily)
    fan_tags_change(fan=fan, add=[oily], source="staff", actor=owner)
    pledge_place(user=fan.user, campaign_id=joined.pk, variant_id=v3.pk, quantity=1)

    response = api_for(owner).post(
        f"/api/fans/{fan.pk}/drafts/", {"command": "/campaign", "k": 3}, format="json"
    )
    assert response.status_code == 200, response.content
    drafts = response.json()["drafts"] if isinstance(response.json(), dict) else response.json()
    assert [d["kind"] for d in drafts] == ["campaign_card", "campaign_card"]
    # the tag match outranks the nearer deadline; the joined campaign and the draft are left out
    assert [d["card"]["campaign"] for d in drafts] == [matching.pk, sooner.pk]
    assert all(d["reason"] for d in drafts)

    # staff send the first draft as a card: the campaign card builder accepts what the draft carries
    sent = api_for(owner).post(
        f"/api/conversations/{fan.conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "campaign_card", "card": drafts[0]["card"]},
        format="json",
    )
    assert sent.status_code == 201, sent.content
    assert sent.json()["card"]["title"] == "适合油皮"


def test_campaign_command_with_no_live_campaign_answers_an_empty_list(api_for, shop, owner, fan):
    response = api_for(owner).post(f"/api/fans/{fan.pk}/drafts/", {"command": "/campaign"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["drafts"] if isinstance(body, dict) else body) == []


@pytest.mark.django_db(transaction=True)
def test_the_bot_answers_how_many_are_still_needed(api_for, shop, owner, monkeypatch):
    BotSettings.objects.create(shop=shop, business_start=dt.time(0, 0), business_end=dt.time(23, 59, 59))
    monkeypatch.setattr("fans.bot.services.assistant.online_user_ids", lambda ids: set(ids))
    product, variant, _v = shop_product(shop)
    campaign = make_campaign(owner, product, title="羽绒服团购", target_quantity=10)
    buyer = FanFactory(shop=shop)
    pledge_place(user=buyer.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=3)
    asker = FanFactory(shop=shop)

    response = api_for(asker.user).post(
        f"/api/conversations/{asker.conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "text": "还差多少件成团？"},
        format="json",
    )
    assert response.status_code == 201, response.content
    replies = list(
        Message.objects.filter(conversation=asker.conversation, side="bot").values_list("text", flat=True)
    )
    assert len(replies) == 1
    assert "羽绒服团购" in replies[0] and "3" in replies[0] and "7" in replies[0] and "10" in replies[0]
