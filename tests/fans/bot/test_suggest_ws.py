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
