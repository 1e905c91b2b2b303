"""A staff member's live card in the fan's quiet hours is deferred to their end, not refused (issue 16): the
API answers 202 with `deferred_until`, the card is a scheduled message in the conversation's list, and the
beat sends it then (the attention budget asked again), once, under the send's client id."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from fans.bot.models import BotSettings, PromoDelivery
from fans.bot.services.budget import quiet_hours_end
from fans.chat.models import Message, MessageKind
from reach.models import ScheduledMessage
from reach.services.scheduled import scheduled_messages_send_due
from tests.conftest import api_client_for
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def set_quiet(shop, *, now_quiet: bool) -> None:
    local = timezone.now().astimezone(ZoneInfo(shop.timezone))
    hours = (-1, 2) if now_quiet else (2, 3)
    BotSettings.objects.update_or_create(
        shop=shop,
        defaults={
            "enabled": False,
            "quiet_start": (local + dt.timedelta(hours=hours[0])).time().replace(second=0, microsecond=0),
            "quiet_end": (local + dt.timedelta(hours=hours[1])).time().replace(second=0, microsecond=0),
        },
    )


def send_card(user, conversation, product, client_id=None):
    return api_client_for(user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {
            "client_id": client_id or str(uuid.uuid4()),
            "kind": "product_card",
            "card": {"product": product.pk},
        },
        format="json",
    )


def test_a_card_in_quiet_hours_is_scheduled_for_their_end_and_sent_then_once(owner, conversation, shop):
    set_quiet(shop, now_quiet=True)
    end = quiet_hours_end(shop, timezone.now())
    product = ProductFactory(shop=shop, name="晚霜", price="88.00")
    cid = str(uuid.uuid4())

    response = send_card(owner, conversation, product, cid)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "deferred"
    assert dt.datetime.fromisoformat(body["deferred_until"]) == end
    assert body["scheduled_message"]["kind"] == "product_card"
    assert not Message.objects.filter(kind=MessageKind.PRODUCT_CARD).exists()
    assert not PromoDelivery.objects.exists()  # deferred, not recorded as skipped
    # A resend of the same send finds the same scheduled card.
    again = send_card(owner, conversation, product, cid)
    assert (
        again.status_code == 202
        and again.json()["scheduled_message"]["id"] == body["scheduled_message"]["id"]
    )
    assert ScheduledMessage.objects.count() == 1
    listed = api_client_for(owner).get(f"/api/conversations/{conversation.pk}/scheduled-messages/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["id"] for r in rows] == [body["scheduled_message"]["id"]]

    # The beat at the end of quiet hours sends the card (built then), once, under the send's client id. The
    # card gate reads the real clock: the quiet hours are over once the shop's settings say so.
    BotSettings.objects.filter(shop=shop).update(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))
    assert scheduled_messages_send_due(now=end + dt.timedelta(seconds=1))["sent"] == 1
    assert scheduled_messages_send_due(now=end + dt.timedelta(minutes=10))["sent"] == 0
    (card,) = Message.objects.filter(kind=MessageKind.PRODUCT_CARD)
    assert str(card.client_id) == cid and card.payload["name"] == "晚霜"
    assert ScheduledMessage.objects.get().status == "sent"
    # The first send's client id now answers with the card itself.
    assert send_card(owner, conversation, product, cid).status_code == 200


def test_outside_quiet_hours_a_card_is_sent_at_once_and_over_budget_still_refused(owner, conversation, shop):
    set_quiet(shop, now_quiet=False)
    BotSettings.objects.filter(shop=shop).update(promo_per_day=1)
    product = ProductFactory(shop=shop)
    assert send_card(owner, conversation, product).status_code == 201
    over = send_card(owner, conversation, product)
    assert over.status_code == 409 and over.json()["code"] == "over_budget"
    assert not ScheduledMessage.objects.exists()
