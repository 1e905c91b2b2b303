import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from fans.bot import hooks as bot_hooks
from fans.bot import services as bot
from fans.bot.models import BotSettings, Broadcast, FaqRule, PhraseRule, PromoDelivery, TagSuggestion
from fans.bot.phrases import phrases_find
from fans.bot.services import broadcasts
from fans.bot.services.budget import OverBudget
from fans.chat.models import Conversation, Message
from fans.chat.services import message_send
from fans.crm.models import FanTag
from tests.factories import FanFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def fan_says(fan, text, run_on_commit):
    message, _ = run_on_commit(
        message_send, user=fan.user, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text=text
    )
    return message


def suggested(fan) -> set[str]:
    return {
        f"{s.tag.group.code}:{s.tag.code}"
        for s in TagSuggestion.objects.filter(fan=fan).select_related("tag__group")
    }


# --- phrases and suggestions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我是油皮，夏天T区特别容易出油", {"skin_type:oily"}),
        ("我是干皮，冬天会起皮", {"skin_type:dry"}),
        ("想要性价比高一点的", {"preference:value"}),
        ("颜值高就行，包装要好看", {"preference:looks"}),
        ("I have oily skin", {"skin_type:oily"}),
        ("Looking for value for money", {"preference:value"}),
        ("我不是油皮", set()),
        ("我皮肤不怎么出油", set()),
        ("My skin is not oily", set()),
        ("I don't have dry skin", set()),
        ("不是油皮是干皮", {"skin_type:dry"}),
        ("我穿XL码", {"clothing_size:xl"}),
        ("宝宝刚出生，想买点婴儿用品", {"household:baby_0_1"}),
    ],
)
def test_fan_phrases_suggest_tags_with_negation(text, expected, fan, run_on_commit):
    fan_says(fan, text, run_on_commit)
    assert suggested(fan) == expected


def test_suggestion_api_contract_confirm_makes_a_bot_tag(api_for, owner, fan, run_on_commit):
    message = fan_says(fan, "我是油皮", run_on_commit)
    body = api_for(owner).get(f"/api/fans/{fan.pk}/tag-suggestions/").json()
    assert len(body) == 1
    s = body[0]
    assert s["tag"] == "skin_type:oily" and 0 < s["confidence"] <= 1 and "油皮" in s["message"]
    assert s["message_id"] == message.pk
    confirmed = api_for(owner).post(f"/api/fans/{fan.pk}/tag-suggestions/{s['id']}/confirm/")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    ft = FanTag.objects.get(fan=fan)
    assert (ft.tag.code, ft.source, ft.added_by) == ("oily", "bot", owner)
    assert api_for(owner).get(f"/api/fans/{fan.pk}/tag-suggestions/").json() == []
    assert api_for(owner).post(f"/api/fans/{fan.pk}/tag-suggestions/{s['id']}/confirm/").status_code == 409


def test_rejected_suggestions_are_never_made_again(api_for, owner, fan, run_on_commit):
    fan_says(fan, "我是油皮", run_on_commit)
    sid = api_for(owner).get(f"/api/fans/{fan.pk}/tag-suggestions/").json()[0]["id"]
    assert (
        api_for(owner).post(f"/api/fans/{fan.pk}/tag-suggestions/{sid}/reject/").json()["status"]
        == "rejected"
    )
    fan_says(fan, "真的是油皮，很油", run_on_commit)
    assert TagSuggestion.objects.filter(fan=fan).count() == 1
    assert api_for(owner).get(f"/api/fans/{fan.pk}/tag-suggestions/").json() == []
    assert not FanTag.objects.filter(fan=fan).exists()


def test_no_suggestion_for_a_tag_the_fan_already_holds(api_for, owner, fan, run_on_commit):
    api_for(owner).post(f"/api/fans/{fan.pk}/tags/", {"add": ["skin_type:oily"]}, format="json")
    fan_says(fan, "我是油皮", run_on_commit)
    assert not TagSuggestion.objects.exists()


def test_decisions_move_the_phrase_confidence(fan, owner, shop, run_on_commit):
    rule = PhraseRule.objects.get(phrase="便宜", shop__isnull=True)
    before = bot.phrase_confidence(rule)
    fan_says(fan, "有没有便宜点的", run_on_commit)
    member = shop.members.get(user=owner)
    bot.suggestion_decide(member=member, suggestion=TagSuggestion.objects.get(fan=fan), confirm=False)
    rule.refresh_from_db()
    assert bot.phrase_confidence(rule) < before


def test_a_suggestion_disappears_once_the_fan_holds_the_tag(api_for, owner, fan, run_on_commit):
    fan_says(fan, "我是油皮", run_on_commit)
    url = f"/api/fans/{fan.pk}/tag-suggestions/"
    assert [s["tag"] for s in api_for(owner).get(url).json()] == ["skin_type:oily"]
    response = api_for(owner).post(f"/api/fans/{fan.pk}/tags/", {"add": ["skin_type:oily"]}, format="json")
    assert response.status_code == 200
    assert api_for(owner).get(url).json() == []


def test_suggestions_of_another_shop_are_404(api_for, other_shop, fan, run_on_commit):
    fan_says(fan, "我是油皮", run_on_commit)
    assert api_for(other_shop.owner).get(f"/api/fans/{fan.pk}/tag-suggestions/").status_code == 404
    sid = TagSuggestion.objects.get().pk
    assert (
        api_for(other_shop.owner).post(f"/api/fans/{fan.pk}/tag-suggestions/{sid}/confirm/").status_code
        == 404
    )


# --- auto-replies and handoff --------------------------------------------------------------------------


@pytest.fixture
def open_all_day(shop):
    return BotSettings.objects.create(
        shop=shop, business_start=dt.time(0, 0), business_end=dt.time(23, 59, 59), away_enabled=True
    )


@pytest.fixture
def staff_online(owner, monkeypatch):
    monkeypatch.setattr("fans.bot.services.assistant.online_user_ids", lambda ids: set(ids))


def bot_messages(conversation):
    return list(
        Message.objects.filter(conversation=conversation, side="bot")
        .order_by("seq")
        .values_list("text", flat=True)
    )


def test_faq_answers_and_the_bot_stops_after_a_human_replies(
    shop, fan, owner, open_all_day, staff_online, run_on_commit
):
    FaqRule.objects.create(shop=shop, keywords="发货,快递", answer="下单后48小时内发货")
    fan_says(fan, "什么时候发货？", run_on_commit)
    assert bot_messages(fan.conversation) == ["下单后48小时内发货"]
    run_on_commit(
        message_send,
        user=owner,
        conversation_id=fan.conversation.pk,
        client_id=uuid.uuid4(),
        text="我来回答～",
    )
    fan.conversation.refresh_from_db()
    assert fan.conversation.bot_paused
    fan_says(fan, "快递是哪家？", run_on_commit)
    assert bot_messages(fan.conversation) == ["下单后48小时内发货"]


def test_bot_resumes_only_when_told(api_for, shop, fan, owner, open_all_day, staff_online, run_on_commit):
    FaqRule.objects.create(shop=shop, keywords="发货", answer="48小时内发货")
    run_on_commit(
        message_send, user=owner, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text="您好"
    )
    fan_says(fan, "发货吗", run_on_commit)
    assert bot_messages(fan.conversation) == []
    assert api_for(owner).post(f"/api/conversations/{fan.conversation.pk}/bot/resume/").json() == {
        "bot_paused": False
    }
    assert api_for(fan.user).post(f"/api/conversations/{fan.conversation.pk}/bot/resume/").status_code == 404
    fan_says(fan, "发货吗？", run_on_commit)
    assert bot_messages(fan.conversation) == ["48小时内发货"]


def test_away_message_when_no_staff_is_online(shop, fan, open_all_day, monkeypatch, run_on_commit):
    monkeypatch.setattr("fans.bot.services.assistant.online_user_ids", lambda ids: set())
    fan_says(fan, "在吗", run_on_commit)
    fan_says(fan, "有人吗", run_on_commit)
    # sent once, not on every message
    assert bot_messages(fan.conversation) == [open_all_day.away_message]


def test_away_message_is_off_until_the_owner_switches_it_on(shop, fan, monkeypatch, run_on_commit):
    # Closed all day and nobody online: only the owner's switch decides.
    settings_obj = BotSettings.objects.create(
        shop=shop, business_start=dt.time(3, 0), business_end=dt.time(3, 0, 1)
    )
    monkeypatch.setattr("fans.bot.services.assistant.online_user_ids", lambda ids: set())
    fan_says(fan, "在吗", run_on_commit)
    assert bot_messages(fan.conversation) == []
    settings_obj.away_enabled = True
    settings_obj.save()
    bot.bot_facts_forget(shop.pk)
    fan_says(fan, "有人吗", run_on_commit)
    assert bot_messages(fan.conversation) == [settings_obj.away_message]


def test_progress_question_is_answered_by_the_campaign_provider(
    shop, fan, open_all_day, staff_online, run_on_commit
):
    asked = []

    def provider(f, text):
        asked.append((f.pk, text))
        return "已认购 80 件，还差 20 件成团，当前价 ¥89"

    bot_hooks.progress_answers.register("test", provider)
    try:
        fan_says(fan, "还差多少？", run_on_commit)
    finally:
        bot_hooks.progress_answers.unregister("test")
    assert asked == [(fan.pk, "还差多少？")]
    assert bot_messages(fan.conversation) == ["已认购 80 件，还差 20 件成团，当前价 ¥89"]


def test_bot_answers_never_count_against_the_budget(shop, fan, open_all_day, staff_online, run_on_commit):
    FaqRule.objects.create(shop=shop, keywords="发货", answer="48小时内发货")
    fan_says(fan, "发货吗", run_on_commit)
    assert not PromoDelivery.objects.exists()


# --- attention budget -----------------------------------------------------------------------------------


def at_local(shop, y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(shop.timezone)).astimezone(dt.UTC)


def decide(shop, fan, when):
    return bot.promo_statuses(shop=shop, fans=[(fan.pk, fan.promotions_opt_out)], now=when)[fan.pk]


def sent_at(fan, when):
    PromoDelivery.objects.create(fan=fan, source="broadcast", status="sent", created_at=when)


def test_one_promotion_per_local_day(shop, fan):
    # 2026-11-18 is a Wednesday
    sent_at(fan, at_local(shop, 2026, 11, 18, 10))
    assert decide(shop, fan, at_local(shop, 2026, 11, 18, 20)) == "skipped_budget"
    assert decide(shop, fan, at_local(shop, 2026, 11, 19, 9)) == "sent"


def test_local_midnight_uses_the_shop_time_zone(shop, fan):
    BotSettings.objects.create(
        shop=shop, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0)
    )  # no quiet hours
    # The next Shanghai day starts at 16:00 UTC, not at UTC midnight.
    sent_at(fan, at_local(shop, 2026, 11, 18, 21, 30))
    assert decide(shop, fan, dt.datetime(2026, 11, 18, 15, 55, tzinfo=dt.UTC)) == "skipped_budget"
    assert decide(shop, fan, dt.datetime(2026, 11, 18, 16, 5, tzinfo=dt.UTC)) == "sent"
    shop.timezone = "America/Los_Angeles"
    shop.save()
    sent_at(fan, at_local(shop, 2026, 11, 18, 8, 30))
    assert decide(shop, fan, at_local(shop, 2026, 11, 18, 20, 0)) == "skipped_budget"


def test_quiet_hours_cross_midnight(shop, fan):
    assert decide(shop, fan, at_local(shop, 2026, 11, 18, 22, 0)) == "skipped_quiet"
    assert decide(shop, fan, at_local(shop, 2026, 11, 19, 0, 30)) == "skipped_quiet"
    assert decide(shop, fan, at_local(shop, 2026, 11, 19, 7, 59)) == "skipped_quiet"
    assert decide(shop, fan, at_local(shop, 2026, 11, 19, 8, 0)) == "sent"
    assert decide(shop, fan, at_local(shop, 2026, 11, 18, 21, 59)) == "sent"


def test_weekly_cap_of_three_resets_on_monday(shop, fan):
    for day in (16, 17, 18):  # Mon, Tue, Wed
        sent_at(fan, at_local(shop, 2026, 11, day, 12))
    assert decide(shop, fan, at_local(shop, 2026, 11, 20, 12)) == "skipped_budget"  # Friday
    assert decide(shop, fan, at_local(shop, 2026, 11, 23, 12)) == "sent"  # next Monday


def test_caps_are_configurable_per_shop(shop, fan):
    BotSettings.objects.create(shop=shop, promo_per_day=2, promo_per_week=5)
    sent_at(fan, at_local(shop, 2026, 11, 18, 10))
    assert decide(shop, fan, at_local(shop, 2026, 11, 18, 12)) == "sent"


def test_opted_out_fans_get_no_promotions(api_for, shop, fan):
    assert api_for(fan.user).post(
        f"/api/me/shops/{shop.pk}/promotions/", {"opt_out": True}, format="json"
    ).json() == {"opt_out": True}
    fan.refresh_from_db()
    assert decide(shop, fan, at_local(shop, 2026, 11, 18, 12)) == "skipped_opt_out"


def test_unsolicited_card_over_budget_is_not_sent_and_is_recorded(shop, fan, owner, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at_local(shop, 2026, 11, 18, 12))
    product = ProductFactory(shop=shop)
    sent_at(fan, at_local(shop, 2026, 11, 18, 9))
    with pytest.raises(OverBudget):
        message_send(
            user=owner,
            conversation_id=fan.conversation.pk,
            client_id=uuid.uuid4(),
            kind="product_card",
            payload={"product": product.pk},
        )
    assert not Message.objects.filter(kind="product_card").exists()
    assert PromoDelivery.objects.filter(fan=fan, status="skipped_budget").count() == 1


def test_card_answering_the_fans_question_does_not_count(shop, fan, owner, run_on_commit):
    BotSettings.objects.create(shop=shop, enabled=False)
    product = ProductFactory(shop=shop)
    sent_at(fan, timezone.now() - dt.timedelta(minutes=5))
    fan_says(fan, "有控油的洁面吗？", run_on_commit)
    message, _ = message_send(
        user=owner,
        conversation_id=fan.conversation.pk,
        client_id=uuid.uuid4(),
        kind="product_card",
        payload={"product": product.pk},
    )
    assert message.kind == "product_card"


# --- broadcasts ---------------------------------------------------------------------------------------


def test_broadcast_respects_budget_and_opt_out_and_reports_stats(
    api_for, shop, owner, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at_local(shop, 2026, 11, 18, 12))
    fans = [FanFactory(shop=shop) for _ in range(6)]
    sent_at(fans[0], at_local(shop, 2026, 11, 18, 9))  # already had today's promotion
    fans[1].promotions_opt_out = True
    fans[1].save()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(owner).post(
            "/api/broadcasts/",
            {
                "fan_ids": [f.pk for f in fans],
                "kind": "text",
                "text": "双十二预售开始啦",
                "promotional": True,
            },
            format="json",
        )
    assert response.status_code == 201
    stats = api_for(owner).get(f"/api/broadcasts/{response.json()['id']}/").json()
    assert {
        k: stats[k] for k in ("status", "queued", "sent", "skipped_budget", "skipped_opt_out", "read")
    } == {"status": "succeeded", "queued": 6, "sent": 4, "skipped_budget": 1, "skipped_opt_out": 1, "read": 0}
    assert not Message.objects.filter(conversation__fan__in=fans[:2]).exists()
    received = Message.objects.filter(conversation__fan__in=fans[2:], text="双十二预售开始啦")
    assert received.count() == 4
    # a fan reads it: the read stat follows
    conv = Conversation.objects.get(fan=fans[2])
    conv.fan_read_seq = conv.last_seq
    conv.save()
    assert api_for(owner).get(f"/api/broadcasts/{response.json()['id']}/").json()["read"] == 1
    # running it again sends nothing new
    bot.broadcast_run(broadcast_id=response.json()["id"])
    assert received.count() == 4


def test_broadcast_rerun_after_a_crash_completes_without_duplicates(shop, owner, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at_local(shop, 2026, 11, 18, 12))
    monkeypatch.setattr(broadcasts, "BROADCAST_BATCH", 2)
    monkeypatch.setattr("fans.bot.tasks.broadcast_run_task.delay", lambda *a: None)
    fans = [FanFactory(shop=shop) for _ in range(5)]
    member = shop.members.get(user=owner)
    broadcast = bot.broadcast_create(
        member=member, kind="text", text="hi", promotional=False, fan_ids=[f.pk for f in fans]
    )
    real = broadcasts._broadcast_batch
    calls = []

    def crash_on_second(b, ids):
        calls.append(ids)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(b, ids)

    monkeypatch.setattr(broadcasts, "_broadcast_batch", crash_on_second)
    with pytest.raises(RuntimeError):
        bot.broadcast_run(broadcast_id=broadcast.pk)
    monkeypatch.setattr(broadcasts, "_broadcast_batch", real)
    bot.broadcast_run(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.sent == 5 and broadcast.status == "succeeded"
    assert Message.objects.filter(text="hi").count() == 5


def test_broadcast_validation_and_permissions(api_for, shop, owner, staff, fan, other_shop):
    client = api_for(owner)
    assert (
        client.post(
            "/api/broadcasts/", {"kind": "text", "text": "", "fan_ids": [fan.pk]}, format="json"
        ).status_code
        == 400
    )
    assert (
        client.post("/api/broadcasts/", {"kind": "video", "fan_ids": [fan.pk]}, format="json").status_code
        == 400
    )
    assert client.post("/api/broadcasts/", {"kind": "text", "text": "x"}, format="json").status_code == 400
    assert (
        api_for(staff)
        .post("/api/broadcasts/", {"kind": "text", "text": "x", "fan_ids": [fan.pk]}, format="json")
        .status_code
        == 403
    )
    assert not Broadcast.objects.exists()
    other = api_for(other_shop.owner).post(
        "/api/broadcasts/", {"kind": "text", "text": "x", "fan_ids": [fan.pk]}, format="json"
    )
    assert other.status_code == 201 and other.json()["queued"] == 0
    assert api_for(other_shop.owner).get(f"/api/broadcasts/{other.json()['id']}/").status_code == 200
    assert api_for(fan.user).get(f"/api/broadcasts/{other.json()['id']}/").status_code == 404


def test_canned_reply_fills_variables(api_for, owner, fan):
    created = api_for(owner).post(
        "/api/bot/canned-replies/",
        {"title": "欢迎", "text": "{fan_name}您好，欢迎来到{shop_name}"},
        format="json",
    )
    rendered = api_for(owner).post(f"/api/fans/{fan.pk}/canned/{created.json()['id']}/render/").json()
    assert rendered["text"] == f"{fan.display_name}您好，欢迎来到{fan.shop.name}"


def test_unknown_draft_command_is_a_clear_error(api_for, owner, fan):
    response = api_for(owner).post(f"/api/fans/{fan.pk}/drafts/", {"command": "/dance"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unknown_command"


def test_phrase_matcher_prefers_longer_phrases():
    matches = phrases_find("我穿XL码", {"L码": "l", "XL码": "xl"})
    assert [m.key for m in matches] == ["xl"]


def test_broadcast_to_every_fan_by_empty_filter(
    api_for, shop, owner, fan, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at_local(shop, 2026, 11, 18, 12))
    FanFactory(shop=shop)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(owner).post(
            "/api/broadcasts/",
            {"kind": "text", "text": "全体", "filter": {}, "promotional": False},
            format="json",
        )
    assert response.status_code == 201 and response.json()["queued"] == 2
    assert Message.objects.filter(text="全体").count() == 2


def test_a_human_reply_announces_the_bot_pause(owner, fan, monkeypatch, django_capture_on_commit_callbacks):
    frames = []
    monkeypatch.setattr(
        "core.events.publish_many", lambda batch: frames.extend(frame["type"] for groups, frame in batch)
    )
    with django_capture_on_commit_callbacks(execute=True):
        message_send(user=owner, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text="我来")
        message_send(user=owner, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text="再说一句")
    assert frames == ["message.new", "conversation.bot", "message.new"]
