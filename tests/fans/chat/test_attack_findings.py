"""Issue 17's chat findings: idempotent resends spend no rate-limit budget, `sync` and `typing` frames are
throttled per connection with coded error frames, `conversation: true` is not conversation 1, and deep or
unencodable JSON frames are refused with a code (the socket stays open)."""

import uuid

import pytest
from asgiref.sync import sync_to_async

from core.errors import NotFound, RateLimited
from fans.chat import services
from fans.chat.batch import TextSend, message_send_batch
from fans.chat.models import Conversation, Message
from tests.fans.chat.test_consumer import ready, receive_type, text_frame

LIMITED = {"RATE_LIMIT_MESSAGES": 2, "RATE_LIMIT_WINDOW_S": 60}


def _send(user, conversation, client_id):
    return services.message_send(user=user, conversation_id=conversation.pk, client_id=client_id, text="你好")


def test_resends_spend_no_budget_and_are_answered_past_the_limit(fan_user, conversation, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, **LIMITED}
    first = uuid.uuid4()
    message, created = _send(fan_user, conversation, first)
    assert created
    for _ in range(5):  # an app resending after reconnects
        again, created = _send(fan_user, conversation, first)
        assert (again.pk, created) == (message.pk, False)
    # One send spent, the five resends nothing: one new message still fits in the budget of two.
    assert _send(fan_user, conversation, uuid.uuid4())[1]
    with pytest.raises(RateLimited):
        _send(fan_user, conversation, uuid.uuid4())
    # Over the limit, a resend is still answered with its first message.
    assert _send(fan_user, conversation, first)[0].pk == message.pk
    assert Message.objects.count() == 2


def test_batched_resends_spend_no_budget(fan_user, conversation, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, **LIMITED}
    first = uuid.uuid4()

    def send(cid):
        return TextSend(user=fan_user, conversation_id=conversation.pk, client_id=cid, text="你好")

    (stored,) = message_send_batch([send(first)])
    resent = message_send_batch([send(first), send(first)])
    assert [(m.pk, created) for m, created in resent] == [(stored[0].pk, False)] * 2
    fresh, over, resend = message_send_batch([send(uuid.uuid4()), send(uuid.uuid4()), send(first)])
    assert fresh[1] is True
    assert isinstance(over, RateLimited)
    assert (resend[0].pk, resend[1]) == (stored[0].pk, False)
    assert Message.objects.count() == 2


def test_true_is_not_conversation_one(fan_user, conversation):
    # Make the fan's conversation number 1, the id `true` used to be read as.
    Conversation.objects.filter(pk=conversation.pk).update(id=1)
    with pytest.raises(NotFound):
        services.message_send(user=fan_user, conversation_id=True, client_id=uuid.uuid4(), text="hi")
    assert services.message_send(user=fan_user, conversation_id=1, client_id=uuid.uuid4(), text="hi")[1]


@pytest.mark.django_db(transaction=True)
async def test_sync_frames_are_throttled_per_connection(fan_user, conversation, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "FRAME_LIMITS": {"sync": (3.0, 0.01)}}
    fan = await ready(fan_user)
    for _ in range(3):
        await fan.send_json_to({"type": "sync", "conversation": conversation.pk, "after_seq": 0})
        assert (await receive_type(fan, "sync.result"))["conversation"] == conversation.pk
    await fan.send_json_to({"type": "sync", "conversation": conversation.pk, "after_seq": 0})
    error = await receive_type(fan, "error")
    assert error["code"] == "rate_limited" and error["message"]
    # The socket stays open and other frames still work.
    await fan.send_json_to({"type": "ping"})
    assert (await receive_type(fan, "pong"))["type"] == "pong"
    # Another connection of the same user has its own budget.
    other = await ready(fan_user)
    await other.send_json_to({"type": "sync", "conversation": conversation.pk, "after_seq": 0})
    assert (await receive_type(other, "sync.result"))["conversation"] == conversation.pk
    await fan.disconnect()
    await other.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_typing_frames_are_throttled_and_true_is_no_id(fan_user, conversation, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "FRAME_LIMITS": {"typing": (2.0, 0.01)}}
    fan = await ready(fan_user)
    await fan.send_json_to({"type": "typing", "conversation": True})
    assert (await receive_type(fan, "error"))["code"] == "invalid"
    await fan.send_json_to({"type": "typing", "conversation": conversation.pk})
    await fan.send_json_to({"type": "typing", "conversation": conversation.pk})
    error = await receive_type(fan, "error")
    assert error["code"] == "rate_limited"
    await fan.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_deep_and_unencodable_frames_are_refused_with_a_code(fan_user, conversation):
    fan = await ready(fan_user)
    await fan.send_to(text_data='{"type": "sync", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert (await receive_type(fan, "error"))["code"] == "too_deep"
    await fan.send_to(text_data='{"type": "message.send", "text": "\\ud800"}')
    assert (await receive_type(fan, "error"))["code"] == "invalid_text"
    await fan.send_json_to(text_frame(True))
    assert (await receive_type(fan, "error"))["code"] == "not_found"
    await fan.send_json_to(text_frame(conversation.pk))
    assert (await receive_type(fan, "message.ack"))["message"]["conversation"] == conversation.pk
    assert await sync_to_async(Message.objects.count)() == 1
    await fan.disconnect()
