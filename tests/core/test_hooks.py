"""Every hook the UI offers has a provider in the real configuration, and start-up fails without one."""

import pytest
from django.core.management import call_command

from core.checks import hooks_filled
from core.hooks import registries
from fans.bot import hooks as bot_hooks
from fans.chat import hooks as chat_hooks


def test_the_real_configuration_fills_every_offered_hook():
    assert hooks_filled() == []
    call_command("check")  # raises SystemCheckError on any error
    names = {r.name for r in registries()}
    assert {"bot.drafts", "bot.progress_answers", "chat.card_builders", "chat.card_gate"} <= names
    assert set(bot_hooks.drafts.keys()) >= {"recommend", "campaign"}
    assert "campaign_card" in chat_hooks.card_builders


@pytest.mark.parametrize(
    ("registry", "key"),
    [
        (bot_hooks.drafts, "campaign"),
        (bot_hooks.drafts, "recommend"),
        (bot_hooks.progress_answers, "campaigns"),
        (chat_hooks.card_builders, "campaign_card"),
        (chat_hooks.card_gates, "attention_budget"),
        (chat_hooks.fan_text_listeners, "bot"),
    ],
)
def test_a_forgotten_registration_fails_the_system_check(registry, key):
    provider = registry.get(key)
    registry.unregister(key)
    try:
        errors = hooks_filled()
        assert [e.id for e in errors] == ["fansi.E001"]
        assert key in errors[0].msg and registry.name in errors[0].msg
        with pytest.raises(Exception, match="fansi.E001"):
            call_command("check")
    finally:
        registry.register(key, provider)
    assert hooks_filled() == []
