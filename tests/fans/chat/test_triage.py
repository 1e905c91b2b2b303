"""Inbox triage: ?filter=awaiting_reply|mine|unread and ?tag= on the conversation list, the chips' counts,
and the inbox order that only the fan writing or a person answering moves (not broadcasts or notices)."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from fans.bot import services as bot
from fans.bot.models import BotSettings
from fans.chat import services
from fans.chat.models import Conversation, MessageKind, Side
from fans.crm.services.fans import fan_tags_update
from shops.access import access_shop_membership
from tests.factories import FanFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db


def say(user, fan, text="在吗"):
    services.message_send(user=user, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text=text)


def tag(user, fan, value):
    fan_tags_update(member=access_shop_membership(user, fan.shop_id), fan=fan, add=[value], remove=[])


def ids(response):
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


@pytest.fixture
def three(shop, owner):
    """waiting: wrote, unanswered; answered: wrote, a person answered; quiet: never wrote."""
    waiting, answered, quiet = (FanFactory(shop=shop, display_name=n) for n in ("等回复", "已回复", "没说话"))
    say(answered.user, answered)
    say(owner, answered, "您好")
    say(waiting.user, waiting)
    return waiting, answered, quiet


def test_awaiting_reply_lists_only_conversations_whose_fan_wrote_last(api_for, owner, three):
    waiting, answered, quiet = three
    got = ids(api_for(owner).get("/api/conversations/?filter=awaiting_reply"))
    assert got == [waiting.conversation.pk]
    body = api_for(owner).get("/api/conversations/?filter=awaiting_reply").json()["results"][0]
    assert body["awaiting_reply"] is True


def test_a_bot_answer_clears_awaiting_reply_but_its_away_message_does_not(api_for, owner, shop):
    fan = FanFactory(shop=shop)
    say(fan.user, fan, "营业时间？")
    conversation = Conversation.objects.get(fan=fan)
    bot.bot_reply(conversation=conversation, text="您好，现在不在营业时间～", answers=False)
    assert ids(api_for(owner).get("/api/conversations/?filter=awaiting_reply")) == [conversation.pk]
    bot.bot_reply(conversation=conversation, text="每天 9 点到 21 点")
    assert ids(api_for(owner).get("/api/conversations/?filter=awaiting_reply")) == []


def test_mine_lists_conversations_assigned_to_the_caller(api_for, shop, owner, three):
    waiting, answered, _quiet = three
    staff = ShopMemberFactory(shop=shop).user
    services.conversation_assign(actor=owner, conversation_id=answered.conversation.pk, assignee_id=staff.pk)
    assert ids(api_for(staff).get("/api/conversations/?filter=mine")) == [answered.conversation.pk]
    assert ids(api_for(owner).get("/api/conversations/?filter=mine")) == []


def test_unread_lists_conversations_with_fan_messages_the_shop_has_not_read(api_for, owner, three):
    waiting, answered, _quiet = three
    assert ids(api_for(owner).get("/api/conversations/?filter=unread")) == [waiting.conversation.pk]


def test_tag_filter_takes_a_tag_code_or_id_and_combines_with_shop_and_filter(
    api_for, shop, owner, other_shop, three
):
    from fans.crm.models import Tag

    waiting, answered, _quiet = three
    tag(owner, answered, "skin_type:oily")
    tag(owner, waiting, "skin_type:oily")
    elsewhere = FanFactory(shop=other_shop)
    tag(other_shop.owner, elsewhere, "skin_type:oily")
    api = api_for(owner)
    by_code = ids(api.get(f"/api/conversations/?shop={shop.pk}&tag=skin_type:oily"))
    assert set(by_code) == {waiting.conversation.pk, answered.conversation.pk}
    oily = Tag.objects.get(group__code="skin_type", code="oily")
    assert set(ids(api.get(f"/api/conversations/?tag={oily.pk}"))) == set(by_code)
    both = ids(api.get(f"/api/conversations/?shop={shop.pk}&tag=skin_type:oily&filter=awaiting_reply"))
    assert both == [waiting.conversation.pk]


@pytest.mark.parametrize(
    "query, code",
    [
        ("filter=everything", "filter_invalid"),
        ("tag=skin_type:shiny", "unknown_tag"),
        ("tag=oily", "unknown_tag"),
    ],
)
def test_bad_filters_are_a_coded_400(api_for, owner, three, query, code):
    response = api_for(owner).get(f"/api/conversations/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["message"]


def test_counts_give_each_filter_for_the_shop_and_are_scoped_to_its_staff(
    api_for, shop, owner, stranger, three
):
    counts = api_for(owner).get(f"/api/conversations/counts/?shop={shop.pk}")
    assert counts.status_code == 200
    # "reminders": reach's filter (fans.chat.hooks.triage_filters), the caller's due follow-ups.
    assert counts.json() == {"awaiting_reply": 1, "mine": 0, "unread": 1, "reminders": 0}
    assert api_for(stranger).get(f"/api/conversations/counts/?shop={shop.pk}").status_code == 404


def test_a_broadcast_does_not_reorder_the_inbox_but_the_fans_answer_does(
    api_for, shop, owner, no_quiet_hours
):
    BotSettings.objects.filter(shop=shop).update(promo_per_day=5, promo_per_week=10)
    first, second = FanFactory(shop=shop), FanFactory(shop=shop)
    say(first.user, first, "早")
    say(second.user, second, "晚")
    api = api_for(owner)
    assert ids(api.get("/api/conversations/"))[:2] == [second.conversation.pk, first.conversation.pk]
    before = Conversation.objects.get(fan=first).activity_at
    response = api.post(
        "/api/broadcasts/",
        {"shop": shop.pk, "kind": "text", "text": "新品上架", "fan_ids": [first.pk]},
        format="json",
    )
    assert response.status_code == 201
    bot.broadcast_run(broadcast_id=response.json()["id"])
    conversation = Conversation.objects.get(fan=first)
    assert conversation.last_message_preview == "新品上架"
    assert conversation.activity_at == before
    assert ids(api.get("/api/conversations/"))[:2] == [second.conversation.pk, first.conversation.pk]
    say(first.user, first, "多少钱？")
    assert ids(api.get("/api/conversations/"))[:2] == [first.conversation.pk, second.conversation.pk]


def test_platform_notices_do_not_reorder_the_inbox_nor_answer_the_fan(api_for, shop, owner):
    first, second = FanFactory(shop=shop), FanFactory(shop=shop)
    say(first.user, first)
    say(second.user, second)
    services.system_message_post(
        conversation=first.conversation, text="尾款待支付", kind=MessageKind.ORDER_CARD, side=Side.SYSTEM
    )
    api = api_for(owner)
    assert ids(api.get("/api/conversations/"))[:2] == [second.conversation.pk, first.conversation.pk]
    assert first.conversation.pk in ids(api.get("/api/conversations/?filter=awaiting_reply"))


def test_a_staff_reply_moves_the_conversation_up(api_for, shop, owner):
    first, second = FanFactory(shop=shop), FanFactory(shop=shop)
    say(first.user, first)
    say(second.user, second)
    say(owner, first, "在的")
    api = api_for(owner)
    assert ids(api.get("/api/conversations/"))[:2] == [first.conversation.pk, second.conversation.pk]
    assert ids(api.get("/api/conversations/?filter=awaiting_reply")) == [second.conversation.pk]


def test_the_backfill_counts_only_fans_and_people_answering(shop, owner):
    """The migration's statement, run again on rows it would find after the upgrade."""
    from importlib import import_module

    backfill = import_module("fans.chat.migrations.0004_conversation_inbox_activity").BACKFILL
    fan = FanFactory(shop=shop)
    say(fan.user, fan, "请问")
    fan_wrote = Conversation.objects.get(fan=fan).activity_at
    services.system_message_post(conversation=fan.conversation, text="通知", side=Side.SYSTEM)
    Conversation.objects.filter(fan=fan).update(
        activity_at=timezone.now() + dt.timedelta(days=1), awaiting_reply=False
    )
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    conversation = Conversation.objects.get(fan=fan)
    assert conversation.activity_at == fan_wrote
    assert conversation.awaiting_reply is True


def test_awaiting_reply_filter_uses_its_partial_index(shop, owner):
    """Fast for 10k+ conversations: the planner can answer the filter from conv_shop_awaiting."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM fans_conversation WHERE shop_id = %s AND awaiting_reply "
            "ORDER BY activity_at DESC, id DESC LIMIT 50",
            [shop.pk],
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "conv_shop_awaiting" in plan


def test_the_list_stays_within_a_fixed_number_of_queries(api_for, shop, owner, django_assert_max_num_queries):
    for _ in range(5):
        fan = FanFactory(shop=shop)
        say(fan.user, fan)
    api = api_for(owner)
    with django_assert_max_num_queries(8):
        assert len(ids(api.get("/api/conversations/?filter=awaiting_reply&tag=skin_type:oily"))) == 0
