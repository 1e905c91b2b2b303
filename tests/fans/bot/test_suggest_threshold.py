import uuid

import pytest

from fans.bot import services as bot
from fans.bot.models import PhraseRule, TagSuggestion
from fans.chat.services import message_send

pytestmark = pytest.mark.django_db


def fan_says(fan, text, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message_send(user=fan.user, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text=text)


def test_below_the_threshold_the_bot_suggests_nothing(fan, django_capture_on_commit_callbacks):
    assert bot.phrase_confidence(PhraseRule.objects.get(phrase="budget", shop__isnull=True)) < 0.6
    fan_says(fan, "I am on a budget", django_capture_on_commit_callbacks)
    assert not TagSuggestion.objects.filter(fan=fan).exists()


def test_the_threshold_is_a_setting(fan, settings, django_capture_on_commit_callbacks):
    settings.FANSI_TAG_SUGGEST_THRESHOLD = 0.95
    fan_says(fan, "我是油皮", django_capture_on_commit_callbacks)
    assert not TagSuggestion.objects.filter(fan=fan).exists()


def test_the_api_shows_the_learned_confidence_not_the_prior(
    api_for, owner, fan, django_capture_on_commit_callbacks
):
    rule = PhraseRule.objects.get(phrase="油皮", shop__isnull=True)
    PhraseRule.objects.filter(pk=rule.pk).update(confirmed=30, rejected=10)
    rule.refresh_from_db()
    fan_says(fan, "我是油皮", django_capture_on_commit_callbacks)
    body = api_for(owner).get(f"/api/fans/{fan.pk}/tag-suggestions/").json()
    assert [s["tag"] for s in body] == ["skin_type:oily"]
    assert body[0]["confidence"] == round(bot.phrase_confidence(rule), 3) != rule.confidence
    assert body[0]["confidence"] >= 0.6


@pytest.mark.parametrize(("rejections", "suggested"), [(29, True), (30, False)])
def test_a_shops_own_decisions_replace_the_platform_figure_past_the_floor(
    fan, rejections, suggested, django_capture_on_commit_callbacks
):
    from fans.bot.models import PhraseRuleShopCounts

    rule = PhraseRule.objects.get(phrase="油皮", shop__isnull=True)
    PhraseRule.objects.filter(pk=rule.pk).update(confirmed=200, rejected=rejections)
    PhraseRuleShopCounts.objects.create(shop=fan.shop, rule=rule, confirmed=0, rejected=rejections)
    fan_says(fan, "我是油皮", django_capture_on_commit_callbacks)
    assert TagSuggestion.objects.filter(fan=fan).exists() is suggested


def test_a_decision_counts_for_the_shop(fan, owner, shop, django_capture_on_commit_callbacks):
    from fans.bot.models import PhraseRuleShopCounts

    fan_says(fan, "我是油皮", django_capture_on_commit_callbacks)
    member = shop.members.get(user=owner)
    bot.suggestion_decide(member=member, suggestion=TagSuggestion.objects.get(fan=fan), confirm=False)
    counts = PhraseRuleShopCounts.objects.get(shop=shop)
    assert (counts.rule.phrase, counts.confirmed, counts.rejected) == ("油皮", 0, 1)


def _frames_announced(fan, text, django_capture_on_commit_callbacks):
    from unittest import mock

    from fans.bot.services import suggestions

    with mock.patch.object(suggestions, "announce", wraps=suggestions.announce) as spy:
        fan_says(fan, text, django_capture_on_commit_callbacks)
    return [call.args[1] for call in spy.call_args_list]


def test_below_the_threshold_the_bot_says_it_is_not_sure(fan, django_capture_on_commit_callbacks):
    rule = PhraseRule.objects.get(phrase="budget", shop__isnull=True)
    frames = _frames_announced(fan, "I am on a budget", django_capture_on_commit_callbacks)
    (note,) = [f for f in frames if f["type"] == "tag_suggestion.unsure"]
    assert note["fan"] == fan.pk
    assert note["note"]["confidence"] == round(bot.phrase_confidence(rule), 3) < 0.6
    assert note["note"]["tag"] == f"{rule.tag.group.code}:{rule.tag.code}"
    assert not [f for f in frames if f["type"] == "tag_suggestion.new"]


def test_no_not_sure_note_for_a_tag_the_fan_holds_or_was_suggested(fan, django_capture_on_commit_callbacks):
    from fans.crm.models import FanTag

    rule = PhraseRule.objects.get(phrase="budget", shop__isnull=True)
    FanTag.objects.create(fan=fan, tag=rule.tag, group=rule.tag.group, single=False, source="staff")
    assert _frames_announced(fan, "I am on a budget", django_capture_on_commit_callbacks) == []


def test_above_the_threshold_there_is_no_not_sure_note(fan, django_capture_on_commit_callbacks):
    frames = _frames_announced(fan, "我是油皮", django_capture_on_commit_callbacks)
    assert [f["type"] for f in frames] == ["tag_suggestion.new"]
