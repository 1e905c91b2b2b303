"""Pushes through the real wiring: a message sent over HTTP or the websocket is stored, the chat core tells
reach after commit, the Celery task (eager in tests) pushes to a local push service, which verifies the VAPID
signature and decrypts the payload the way a browser would."""

import datetime as dt
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from fans.bot.models import BotSettings
from fans.chat.models import MessageKind, Side
from fans.chat.services import system_message_post
from reach.models import PushPreference, PushSubscription
from reach.services.push import push_for_messages
from tests.conftest import api_client_for
from tests.fans.chat.test_consumer import ready, text_frame

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _bot_off(shop):
    # The bot's away message would be a second push; these tests are about one message each. No quiet hours
    # unless a test sets them: a transactional notice in the fan's quiet hours waits for their end
    # (tests/reach/test_deferred_push.py), so these tests must not depend on the hour they run at.
    BotSettings.objects.update_or_create(
        shop=shop,
        defaults={"enabled": False, "quiet_start": dt.time(0, 0), "quiet_end": dt.time(0, 0)},
    )


def send_http(user, conversation, text):
    response = api_client_for(user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "text", "text": text},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    return response


def test_owner_reply_over_http_pushes_the_offline_fan_privately(
    shop, owner, fan_user, conversation, push_server, subscribe
):
    subscribe(fan_user, "fan-phone")
    send_http(owner, conversation, "您的快递明天到，记得查收哦")

    (push,) = push_server.wait_for(1)
    assert push.error == ""
    assert push.claims["aud"] == push_server.origin  # VAPID checked against the site's public key
    assert push.headers["topic"] == f"c{conversation.pk}"  # collapsed per conversation
    assert push.payload["tag"] == f"conversation-{conversation.pk}"
    assert push.payload["title"] == shop.name
    # Lock-screen privacy by default: who wrote, never what.
    assert shop.name in push.payload["body"]
    assert "快递" not in push.payload["body"]
    assert push.payload["url"] == f"/s/{shop.slug}/"
    assert PushSubscription.objects.get().last_ok_at is not None


def test_previews_on_shows_the_text_truncated(owner, fan_user, conversation, push_server, subscribe):
    subscribe(fan_user, "fan-phone")
    PushPreference.objects.create(user=fan_user, previews=True)
    send_http(owner, conversation, "新品到了" + "啊" * 200)

    (push,) = push_server.wait_for(1)
    assert push.payload["body"].startswith("新品到了")
    assert len(push.payload["body"]) == 80 and push.payload["body"].endswith("…")


def test_gone_subscription_is_deleted(owner, fan_user, conversation, push_server, subscribe):
    subscribe(fan_user, "fan-old", path_suffix="/gone")
    keep = subscribe(fan_user, "fan-new")
    send_http(owner, conversation, "在吗")

    push_server.wait_for(2)
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [keep]


def test_fan_message_pushes_the_owner_of_an_unassigned_conversation_not_the_fan(
    owner, staff, fan_user, conversation, push_server, subscribe
):
    subscribe(owner, "owner-phone")
    subscribe(staff, "staff-phone")
    subscribe(fan_user, "fan-phone")
    send_http(fan_user, conversation, "这个有货吗")

    pushes = push_server.wait_for(1)
    assert [p.path for p in pushes] == ["/push/owner-phone"]
    assert pushes[0].payload["url"].startswith(f"/inbox/c/{conversation.pk}/")


def test_fan_message_pushes_the_assignee(owner, staff, fan_user, conversation, push_server, subscribe):
    conversation.assigned_to = staff
    conversation.save(update_fields=["assigned_to"])
    subscribe(owner, "owner-phone")
    subscribe(staff, "staff-phone")
    send_http(fan_user, conversation, "这个有货吗")

    assert [p.path for p in push_server.wait_for(1)] == ["/push/staff-phone"]


def test_transactional_notice_pushes_the_fan(shop, fan_user, conversation, push_server, subscribe):
    """Balance due, shipment, dunning: preorders posts them as platform messages (system_message_post)."""
    subscribe(fan_user, "fan-phone")
    system_message_post(
        conversation=conversation,
        text="「面膜」成团啦！请支付尾款",
        kind=MessageKind.ORDER_CARD,
        side=Side.SYSTEM,
        payload={"card": "balance_due", "title": "面膜"},
    )
    (push,) = push_server.wait_for(1)
    assert push.payload["title"] == shop.name and "尾款" not in push.payload["body"]


async def test_fan_with_an_open_socket_gets_no_push_and_a_closed_one_does(
    owner, fan_user, conversation, push_server, subscribe
):
    await sync_to_async(subscribe)(fan_user, "fan-phone")
    socket = await ready(fan_user)
    await sync_to_async(send_http)(owner, conversation, "第一条")
    # The push task ran eagerly in the request's after-commit: nothing was sent to the online fan.
    assert push_server.count == 0
    await socket.disconnect()
    await sync_to_async(send_http)(owner, conversation, "第二条")
    assert len(await sync_to_async(push_server.wait_for)(1)) == 1


async def test_fan_message_over_the_websocket_pushes_the_offline_owner(
    owner, fan_user, conversation, push_server, subscribe
):
    await sync_to_async(subscribe)(owner, "owner-phone")
    socket = await ready(fan_user)
    await socket.send_json_to(text_frame(conversation.pk, "请问发货了吗"))
    pushes = await sync_to_async(push_server.wait_for)(1)
    await socket.disconnect()
    assert [p.path for p in pushes] == ["/push/owner-phone"]
    assert pushes[0].error == "" and "发货" not in pushes[0].payload["body"]


def test_marketing_waits_out_quiet_hours(shop, owner, fan_user, conversation, push_server, subscribe):
    """A broadcast or card pushes only within the attention budget's hours; a reply does not wait."""
    subscribe(fan_user, "fan-phone")
    now = timezone.localtime(timezone.now())
    BotSettings.objects.filter(shop=shop).update(
        quiet_start=(now - timezone.timedelta(hours=1)).time(),
        quiet_end=(now + timezone.timedelta(hours=1)).time(),
    )
    card = system_message_post(
        conversation=conversation,
        text="",
        kind=MessageKind.PRODUCT_CARD,
        side=Side.BOT,
        payload={"name": "面膜"},
    )
    assert push_for_messages(message_ids=[card.pk], marketing_ids=[card.pk])["sent"] == 0
    assert push_for_messages(message_ids=[card.pk], marketing_ids=[])["sent"] == 1
