"""The one message core (fans.chat.append) through the real wiring: broadcasts arrive live on both sides,
and text no database can store is refused at every edge without failing anyone else's message."""

import json
import uuid

import pytest
from asgiref.sync import sync_to_async

from core.events import LISTENED_CHECK_MIN
from fans.bot.models import BotSettings
from fans.chat.batch import TextSend, message_send_batch
from fans.chat.models import Conversation, Message
from tests.factories import FanFactory
from tests.fans.chat.test_consumer import ready, receive_type, text_frame

BAD_TEXTS = ["a\ud800b", "nul\x00byte"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("audience", [1, LISTENED_CHECK_MIN + 10])
async def test_a_broadcast_reaches_the_open_inbox_and_the_fan_socket_live(api_for, shop, owner, audience):
    """One fan, and a batch large enough that frames are built only for groups someone listens to."""
    await sync_to_async(BotSettings.objects.update_or_create)(
        shop=shop, defaults={"enabled": False, "quiet_start": "00:00", "quiet_end": "00:00"}
    )
    fans = [await sync_to_async(FanFactory)(shop=shop, display_name=f"粉丝{i}") for i in range(audience)]
    fan = fans[-1]
    conversation_id = await sync_to_async(lambda: fan.conversation.pk)()
    owner_ws = await ready(owner)
    fan_ws = await ready(fan.user)

    response = await sync_to_async(
        lambda: api_for(owner).post(
            "/api/broadcasts/",
            {"shop": shop.pk, "kind": "text", "text": "新品到货，老粉 8 折", "fan_ids": [f.pk for f in fans]},
            format="json",
        )
    )()
    assert response.status_code == 201, response.content

    frame = await receive_type(fan_ws, "message.new")
    assert frame["message"]["text"] == "新品到货，老粉 8 折"
    assert frame["message"]["conversation"] == conversation_id
    assert frame["message"]["side"] == "shop" and frame["message"]["seq"] == 1
    seen = set()
    for _ in range(audience):
        frame = await receive_type(owner_ws, "message.new")
        assert frame["message"]["text"] == "新品到货，老粉 8 折"
        seen.add(frame["message"]["conversation"])
    assert conversation_id in seen and len(seen) == audience
    conversation = await sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert (conversation.last_seq, conversation.fan_unread, conversation.bot_paused) == (1, 1, False)
    assert conversation.last_message_preview == "新品到货，老粉 8 折"
    await owner_ws.disconnect()
    await fan_ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", BAD_TEXTS)
async def test_unstorable_text_is_refused_on_the_socket_with_a_code(fan_user, conversation, bad):
    ws = await ready(fan_user)
    await ws.send_json_to(text_frame(conversation.pk, bad))
    error = await receive_type(ws, "error")
    assert error["code"] == "invalid_text"
    await ws.send_json_to(text_frame(conversation.pk, "正常消息"))
    ack = await receive_type(ws, "message.ack")
    assert ack["message"]["seq"] == 1
    assert await sync_to_async(Message.objects.count)() == 1
    await ws.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", BAD_TEXTS)
def test_unstorable_text_is_refused_over_http_and_nothing_is_written(api_for, fan_user, conversation, bad):
    # Sent as a client would: JSON escapes (\\ud800, \\u0000) that decode to unstorable text.
    body = json.dumps({"client_id": str(uuid.uuid4()), "text": bad})
    response = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_text", response.json()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_one_bad_row_cannot_fail_the_honest_sends_in_its_batch(shop, fan_user, conversation):
    honest = FanFactory(shop=shop)
    attacker = FanFactory(shop=shop)
    results = message_send_batch(
        [
            TextSend(attacker.user, attacker.conversation.pk, str(uuid.uuid4()), "a\ud800b"),
            TextSend(fan_user, conversation.pk, str(uuid.uuid4()), "我是油皮"),
            TextSend(attacker.user, attacker.conversation.pk, str(uuid.uuid4()), "x\x00y"),
            TextSend(honest.user, honest.conversation.pk, str(uuid.uuid4()), "在吗"),
        ]
    )
    assert [getattr(r, "code", "ok") for r in results] == ["invalid_text", "ok", "invalid_text", "ok"]
    assert sorted(Message.objects.values_list("text", flat=True)) == sorted(["我是油皮", "在吗"])
