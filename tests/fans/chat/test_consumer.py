"""The chat websocket through the real ASGI stack (origin check, auth, channel layer)."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token

from config.asgi import application
from core.events import group_send_many
from fans.bot.models import BotSettings
from fans.chat.models import Message
from tests.factories import FanFactory, ShopFactory

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture(autouse=True)
def _bot_off(shop):
    """These tests are about the protocol; the bot's answers (away message, FAQ) are tested on their own."""
    BotSettings.objects.update_or_create(shop=shop, defaults={"enabled": False})


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


async def connect(user=None, *, origin=ORIGIN, headers=(), query=""):
    path = "/ws/chat/"
    if user is not None:
        key = await sync_to_async(token_for)(user)
        path += f"?token={key}"
    elif query:
        path += query
    hdrs = [origin] if origin else []
    hdrs += list(headers)
    comm = WebsocketCommunicator(application, path, headers=hdrs)
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def ready(user, **kw):
    comm, connected, _ = await connect(user, **kw)
    assert connected
    hello = await comm.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    return comm


async def receive_type(comm, frame_type, timeout=5):
    """Next frame of the given type; frames of other types before it are dropped."""
    for _ in range(20):
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == frame_type:
            return frame
    raise AssertionError(f"no {frame_type} frame")


def text_frame(conversation_id, text="你好", client_id=None, **extra):
    return {
        "type": "message.send",
        "conversation": conversation_id,
        "client_id": client_id or str(uuid.uuid4()),
        "kind": "text",
        "text": text,
        **extra,
    }


async def test_anonymous_socket_is_closed_with_4401():
    comm, connected, _ = await connect(None)
    assert connected
    closed = await comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_bad_token_is_closed_with_4401():
    comm, connected, _ = await connect(None, query="?token=nope")
    assert connected
    assert (await comm.receive_output(timeout=5))["code"] == 4401


async def test_foreign_origin_is_refused(fan_user):
    comm, connected, _ = await connect(fan_user, origin=(b"origin", b"https://evil.example.com"))
    assert not connected


async def test_session_cookie_authenticates_browser_sockets(fan_user, conversation):
    client = Client()
    await sync_to_async(client.force_login)(fan_user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    comm, connected, _ = await connect(None, headers=[(b"cookie", cookie)])
    assert connected
    hello = await comm.receive_json_from(timeout=5)
    assert hello == {"type": "hello", "user": fan_user.pk, "shops": []}
    await comm.disconnect()


async def test_session_cookie_without_origin_is_not_trusted(fan_user):
    client = Client()
    await sync_to_async(client.force_login)(fan_user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    comm, connected, _ = await connect(None, origin=None, headers=[(b"cookie", cookie)])
    assert connected
    assert (await comm.receive_output(timeout=5))["code"] == 4401


async def test_send_acks_the_sender_and_reaches_every_socket_of_both_sides(
    fan_user, owner, staff, conversation
):
    fan_a = await ready(fan_user)
    fan_b = await ready(fan_user)
    owner_ws = await ready(owner)
    staff_ws = await ready(staff)
    frame = text_frame(conversation.pk, "我是油皮，有推荐吗？")
    await fan_a.send_json_to(frame)

    ack = await receive_type(fan_a, "message.ack")
    assert ack["client_id"] == frame["client_id"]
    msg = ack["message"]
    assert {"id", "conversation", "seq", "sender", "kind", "text", "created_at", "client_id"} <= msg.keys()
    assert (msg["conversation"], msg["seq"], msg["sender"], msg["kind"]) == (
        conversation.pk,
        1,
        fan_user.pk,
        "text",
    )
    assert msg["text"] == "我是油皮，有推荐吗？"
    for comm in (fan_a, fan_b, owner_ws, staff_ws):
        new = await receive_type(comm, "message.new")
        assert new["message"]["id"] == msg["id"]
    assert await sync_to_async(Message.objects.count)() == 1
    for comm in (fan_a, fan_b, owner_ws, staff_ws):
        await comm.disconnect()


async def test_other_shops_and_other_fans_hear_nothing(fan_user, conversation, shop):
    other_shop = await sync_to_async(ShopFactory)()
    other_fan = await sync_to_async(FanFactory)(shop=shop)
    outsider = await ready(other_shop.owner)
    other_fan_ws = await ready(other_fan.user)
    fan = await ready(fan_user)
    await fan.send_json_to(text_frame(conversation.pk, "私密"))
    await receive_type(fan, "message.ack")
    assert await outsider.receive_nothing(timeout=0.5)
    assert await other_fan_ws.receive_nothing(timeout=0.5)
    for comm in (outsider, other_fan_ws, fan):
        await comm.disconnect()


async def test_resending_a_client_id_returns_the_same_ack_and_stores_nothing(fan_user, conversation):
    fan = await ready(fan_user)
    frame = text_frame(conversation.pk, "重发")
    await fan.send_json_to(frame)
    first = await receive_type(fan, "message.ack")
    await fan.send_json_to(frame)
    second = await receive_type(fan, "message.ack")
    assert second == first
    assert await sync_to_async(Message.objects.count)() == 1
    await fan.disconnect()


async def test_sync_returns_every_message_after_seq_in_order(fan_user, owner, conversation):
    fan = await ready(fan_user)
    for i in range(5):
        await fan.send_json_to(text_frame(conversation.pk, f"m{i}"))
        await receive_type(fan, "message.ack")
    owner_ws = await ready(owner)
    await owner_ws.send_json_to({"type": "sync", "conversation": conversation.pk, "after_seq": 2})
    result = await receive_type(owner_ws, "sync.result")
    assert result["conversation"] == conversation.pk
    assert [m["seq"] for m in result["messages"]] == [3, 4, 5]
    assert [m["text"] for m in result["messages"]] == ["m2", "m3", "m4"]
    assert result["has_more"] is False
    await fan.disconnect()
    await owner_ws.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid"),
        ("[1, 2]", "invalid"),
        (json.dumps({"type": "nope"}), "invalid"),
        (json.dumps({"type": "message.send", "conversation": 0, "kind": "text", "text": "x"}), "invalid"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_open(fan_user, conversation, raw, code):
    fan = await ready(fan_user)
    await fan.send_to(text_data=raw)
    error = await receive_type(fan, "error")
    assert error["code"] == code and error["message"]
    await fan.send_json_to({"type": "ping"})
    assert (await receive_type(fan, "pong"))["type"] == "pong"
    assert await sync_to_async(Message.objects.count)() == 0
    await fan.disconnect()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"text": ""}, "invalid"),
        ({"text": "x" * 4001}, "too_long"),
        ({"kind": "hologram"}, "invalid"),
        ({"client_id": None}, "invalid"),
    ],
)
async def test_bad_messages_get_an_error_frame_with_the_client_id(fan_user, conversation, overrides, code):
    fan = await ready(fan_user)
    frame = {**text_frame(conversation.pk), **overrides}
    await fan.send_json_to(frame)
    error = await receive_type(fan, "error")
    assert error["code"] == code
    assert error["client_id"] == frame["client_id"]
    assert await sync_to_async(Message.objects.count)() == 0
    await fan.disconnect()


async def test_foreign_conversation_is_not_found(conversation, shop):
    other = await sync_to_async(FanFactory)(shop=shop)
    intruder = await ready(other.user)
    await intruder.send_json_to(text_frame(conversation.pk, "偷看"))
    assert (await receive_type(intruder, "error"))["code"] == "not_found"
    await intruder.send_json_to({"type": "sync", "conversation": conversation.pk, "after_seq": 0})
    assert (await receive_type(intruder, "error"))["code"] == "not_found"
    assert await sync_to_async(Message.objects.count)() == 0
    await intruder.disconnect()


async def test_flooding_is_rate_limited(fan_user, conversation, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 2, "RATE_LIMIT_WINDOW_S": 60}
    fan = await ready(fan_user)
    for _ in range(2):
        await fan.send_json_to(text_frame(conversation.pk))
        await receive_type(fan, "message.ack")
    await fan.send_json_to(text_frame(conversation.pk))
    assert (await receive_type(fan, "error"))["code"] == "rate_limited"
    assert await sync_to_async(Message.objects.count)() == 2
    await fan.disconnect()


async def test_read_receipt_reaches_the_other_side(fan_user, owner, conversation):
    fan = await ready(fan_user)
    owner_ws = await ready(owner)
    await fan.send_json_to(text_frame(conversation.pk, "看到了吗"))
    await receive_type(fan, "message.ack")
    await owner_ws.send_json_to({"type": "read", "conversation": conversation.pk, "seq": 1})
    receipt = await receive_type(fan, "read")
    assert receipt == {
        "type": "read",
        "conversation": conversation.pk,
        "side": "shop",
        "seq": 1,
        "user": owner.pk,
    }
    await fan.disconnect()
    await owner_ws.disconnect()


async def test_typing_indicator_reaches_the_other_side(fan_user, owner, conversation):
    fan = await ready(fan_user)
    owner_ws = await ready(owner)
    await fan.send_json_to({"type": "typing", "conversation": conversation.pk})
    typing = await receive_type(owner_ws, "typing")
    assert typing == {"type": "typing", "conversation": conversation.pk, "user": fan_user.pk}
    await fan.disconnect()
    await owner_ws.disconnect()


async def test_html_is_stored_and_sent_as_plain_text(fan_user, conversation):
    fan = await ready(fan_user)
    await fan.send_json_to(text_frame(conversation.pk, "<script>alert(1)</script>"))
    ack = await receive_type(fan, "message.ack")
    assert ack["message"]["text"] == "<script>alert(1)</script>"
    await fan.disconnect()


async def test_sends_from_many_sockets_at_once_are_each_acked_numbered_and_delivered(owner, shop):
    """Sends that arrive together are stored together (group commit); each still gets its own ack and
    message.new, numbered per conversation, and refusals do not hold up the others."""
    fans = [await sync_to_async(FanFactory)(shop=shop) for _ in range(4)]
    owner_ws = await ready(owner)
    sockets = [await ready(f.user) for f in fans]
    frames = {
        i: [text_frame(f.conversation.pk, f"fan {i} says {n}") for n in range(3)] for i, f in enumerate(fans)
    }
    for n in range(3):
        for i, ws in enumerate(sockets):
            await ws.send_json_to(frames[i][n])
    await sockets[0].send_json_to(text_frame(fans[1].conversation.pk, "not mine"))
    for i, ws in enumerate(sockets):
        acks = [await receive_type(ws, "message.ack") for _ in range(3)]
        assert [a["client_id"] for a in acks] == [f["client_id"] for f in frames[i]]
        assert [a["message"]["seq"] for a in acks] == [1, 2, 3]
    assert (await receive_type(sockets[0], "error"))["code"] == "not_found"
    delivered = [(await receive_type(owner_ws, "message.new"))["message"] for _ in range(12)]
    assert sorted(m["client_id"] for m in delivered) == sorted(
        f["client_id"] for fs in frames.values() for f in fs
    )
    assert await sync_to_async(Message.objects.count)() == 12
    for comm in (owner_ws, *sockets):
        await comm.disconnect()


async def test_group_send_many_reaches_every_group_in_order():
    """The pipelined publish (one round trip for a whole batch) delivers like one group_send per event."""
    layer = get_channel_layer()
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("many.a", a)
    await layer.group_add("many.b", b)
    events = [{"type": "chat.event", "frame": str(n)} for n in range(3)]
    await group_send_many(
        [("many.a", events[0]), ("many.b", events[0]), ("many.a", events[1]), ("many.a", events[2])]
    )
    assert [(await asyncio.wait_for(layer.receive(a), 5))["frame"] for _ in range(3)] == ["0", "1", "2"]
    assert (await asyncio.wait_for(layer.receive(b), 5))["frame"] == "0"
    await layer.group_discard("many.a", a)
    await layer.group_discard("many.b", b)


@pytest.mark.parametrize(
    ("headers", "query", "malformed", "too_long"),
    [
        ((), "", "JSON 格式错误。", "最多"),  # nothing asked: the default, zh-hans
        (((b"accept-language", b"en-US,en;q=0.9"),), "", "Malformed JSON.", "at most"),
        (
            ((b"cookie", b"django_language=en"), (b"accept-language", b"zh-CN")),
            "",
            "Malformed JSON.",
            "at most",
        ),
        (((b"accept-language", b"en"),), "&lang=zh-hans", "JSON 格式错误。", "最多"),
    ],
)
async def test_error_messages_speak_the_sockets_language(
    fan_user, conversation, headers, query, malformed, too_long
):
    # The socket's own refusals, and a service's refusal through the batched send path.
    key = await sync_to_async(token_for)(fan_user)
    comm = WebsocketCommunicator(application, f"/ws/chat/?token={key}{query}", headers=[ORIGIN, *headers])
    connected, _ = await comm.connect(timeout=5)
    assert connected and (await comm.receive_json_from(timeout=5))["type"] == "hello"
    await comm.send_to(text_data="{not json")
    assert (await receive_type(comm, "error"))["message"] == malformed
    await comm.send_json_to(text_frame(conversation.pk, "x" * 4001))
    error = await receive_type(comm, "error")
    assert error["code"] == "too_long" and too_long in error["message"]
    await comm.disconnect()


def test_a_batch_answers_each_sender_in_their_own_language(fan_user, conversation):
    from fans.chat.batch import TextSend, message_send_batch

    sends = [
        TextSend(fan_user, conversation.pk, str(uuid.uuid4()), "x" * 4001, language=language)
        for language in ("en", "zh-hans")
    ]
    english, chinese = message_send_batch(sends)
    assert "at most" in english.message and "最多" in chinese.message
