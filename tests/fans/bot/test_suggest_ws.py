"""A fan's message through the real websocket: staff sockets get the suggestion with its learned number."""

import pytest
from asgiref.sync import sync_to_async

from fans.bot import services as bot
from fans.bot.models import PhraseRule
from tests.fans.chat.test_consumer import ready, receive_type, text_frame

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_owner_socket_gets_the_calibrated_confidence(fan_user, owner, conversation):
    def learned() -> float:
        PhraseRule.objects.filter(phrase="油皮", shop__isnull=True).update(confirmed=40, rejected=10)
        return round(bot.phrase_confidence(PhraseRule.objects.get(phrase="油皮", shop__isnull=True)), 3)

    expected = await sync_to_async(learned)()
    fan = await ready(fan_user)
    owner_ws = await ready(owner)
    await fan.send_json_to(text_frame(conversation.pk, "我是油皮"))
    frame = await receive_type(owner_ws, "tag_suggestion.new")
    assert frame["suggestion"]["tag"] == "skin_type:oily"
    assert frame["suggestion"]["confidence"] == expected >= 0.6
    await fan.disconnect()
    await owner_ws.disconnect()


async def test_below_the_threshold_the_owner_socket_gets_a_not_sure_note_and_nothing_to_accept(
    fan_user, owner, conversation
):
    """Owners rejected 油皮 often enough that its measured confidence is under the display threshold: the
    owner sees "not sure" with that number, never a suggestion (no frame, no row, nothing to confirm)."""
    from fans.bot.models import TagSuggestion

    def doubtful() -> float:
        from django.core.cache import cache

        PhraseRule.objects.filter(phrase="油皮", shop__isnull=True).update(confirmed=5, rejected=20)
        cache.delete(
            f"bot:phrases:{conversation.shop_id}"
        )  # the bot's cached rules (suggestion_decide does too)
        return round(bot.phrase_confidence(PhraseRule.objects.get(phrase="油皮", shop__isnull=True)), 3)

    expected = await sync_to_async(doubtful)()
    assert expected < 0.6
    fan = await ready(fan_user)
    owner_ws = await ready(owner)
    await fan.send_json_to(text_frame(conversation.pk, "我是油皮"))
    frames = []
    for _ in range(20):  # everything the owner's socket gets for this message, up to the note
        frames.append(await owner_ws.receive_json_from(timeout=10))
        if frames[-1]["type"] == "tag_suggestion.unsure":
            break
    note = frames[-1]
    assert note["type"] == "tag_suggestion.unsure", [f["type"] for f in frames]
    assert note["note"]["tag"] == "skin_type:oily"
    assert note["note"]["tag_name"] == "油皮"
    assert note["note"]["confidence"] == expected
    assert note["note"]["threshold"] == 0.6
    assert note["note"]["phrase"] == "油皮"
    assert note["note"]["message"]["text"] == "我是油皮"
    assert "id" not in note["note"]
    assert not [f for f in frames if f["type"] == "tag_suggestion.new"]
    assert not await sync_to_async(TagSuggestion.objects.exists)()
    await fan.disconnect()
    await owner_ws.disconnect()
