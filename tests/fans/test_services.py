import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fans import services
from fans.models import BotSettings, Conversation, Message, MessageKind
from shops.errors import Forbidden, Invalid, NotFound, RateLimited, TooLong
from tests.factories import FanFactory, ProductFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _bot_off(shop):
    """Chat services on their own; the bot's replies are tested in test_bot.py."""
    BotSettings.objects.update_or_create(shop=shop, defaults={"enabled": False})


def send(user, conversation, text="你好", **kw):
    return services.message_send(
        user=user,
        conversation_id=conversation.pk,
        client_id=kw.pop("client_id", uuid.uuid4()),
        text=text,
        **kw,
    )


def test_message_send_numbers_messages_per_conversation(
    fan_user, owner, conversation, django_capture_on_commit_callbacks, monkeypatch
):
    published, bot_tasks = [], []
    monkeypatch.setattr("fans.events.publish", lambda groups, frame: published.append(frame["type"]))
    monkeypatch.setattr(
        "fans.tasks.bot_on_fan_message_task.delay", lambda message_id: bot_tasks.append(message_id)
    )
    with django_capture_on_commit_callbacks(execute=True):
        m1, created1 = send(fan_user, conversation, "我是油皮")
        m2, created2 = send(owner, conversation, "推荐控油洁面")
    assert (m1.seq, m2.seq) == (1, 2)
    assert created1 and created2
    assert (m1.side, m2.side) == ("fan", "shop")
    conversation.refresh_from_db()
    assert conversation.last_seq == 2
    assert conversation.last_message_preview == "推荐控油洁面"
    # after commit: one message.new per message, the owner's reply pauses the bot (hand-off),
    # and the bot looks only at the fan's text
    assert published == ["message.new", "message.new", "conversation.bot"]
    assert bot_tasks == [m1.pk]


def test_message_new_is_announced_to_fan_and_shop_groups(
    fan_user, conversation, shop, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr("fans.events.publish", lambda groups, frame: published.append((groups, frame)))
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = send(fan_user, conversation, "在吗")
    assert len(published) == 1
    groups, frame = published[0]
    assert groups == [f"user.{fan_user.pk}", f"shop.{shop.pk}"]
    assert frame["type"] == "message.new"
    assert frame["message"]["id"] == message.pk
    assert frame["message"]["seq"] == 1
    assert frame["message"]["text"] == "在吗"


def test_resending_a_client_id_returns_the_first_message_and_stores_nothing(fan_user, conversation):
    cid = uuid.uuid4()
    first, created = send(fan_user, conversation, "第一次", client_id=cid)
    again, created_again = send(fan_user, conversation, "第一次", client_id=cid)
    assert created and not created_again
    assert again.pk == first.pk
    assert Message.objects.count() == 1


def test_client_id_reused_in_another_conversation_is_refused(fan_user, conversation, other_shop):
    other = FanFactory(shop=other_shop, user=fan_user)
    cid = uuid.uuid4()
    send(fan_user, conversation, client_id=cid)
    with pytest.raises(Invalid):
        send(fan_user, other.conversation, client_id=cid)
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": ""}, Invalid),
        ({"text": "   \n "}, Invalid),
        ({"text": "字" * 4001}, TooLong),
        ({"kind": "video"}, Invalid),
        ({"kind": "system"}, Invalid),
        ({"client_id": None}, Invalid),
        ({"client_id": "not-a-uuid"}, Invalid),
        ({"kind": "image"}, Invalid),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_stored(fan_user, conversation, kwargs, error):
    with pytest.raises(error):
        send(fan_user, conversation, **kwargs)
    assert Message.objects.count() == 0
    conversation.refresh_from_db()
    assert conversation.last_seq == 0


def test_text_of_exactly_the_limit_is_accepted(fan_user, conversation):
    message, _ = send(fan_user, conversation, "字" * 4000)
    assert len(message.text) == 4000


def test_strangers_and_other_shops_cannot_send_into_a_conversation(conversation, stranger, other_shop):
    with pytest.raises(NotFound):
        send(stranger, conversation)
    with pytest.raises(NotFound):
        send(other_shop.owner, conversation)
    assert Message.objects.count() == 0


def test_staff_of_the_shop_can_reply(conversation, staff):
    message, _ = send(staff, conversation, "您好，我是小助理")
    assert message.side == "shop"


def test_fans_cannot_send_product_cards(fan_user, conversation, shop):
    product = ProductFactory(shop=shop)
    with pytest.raises(Forbidden):
        send(fan_user, conversation, kind="product_card", payload={"product": product.pk})
    assert Message.objects.count() == 0


def test_owner_sends_a_product_card_with_a_snapshot(owner, conversation, shop, no_quiet_hours):
    product = ProductFactory(shop=shop, name="控油洁面乳", price="59.00")
    message, _ = send(owner, conversation, "", kind="product_card", payload={"product": product.pk})
    assert message.kind == MessageKind.PRODUCT_CARD
    assert message.payload["name"] == "控油洁面乳"
    assert message.payload["price"] == "59.00"


def test_product_card_for_another_shops_product_is_refused(owner, conversation, other_shop):
    product = ProductFactory(shop=other_shop)
    with pytest.raises(Invalid):
        send(owner, conversation, "", kind="product_card", payload={"product": product.pk})
    assert Message.objects.count() == 0


def test_rate_limit_refuses_a_flood(fan_user, conversation, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 3, "RATE_LIMIT_WINDOW_S": 60}
    for i in range(3):
        send(fan_user, conversation, f"m{i}")
    with pytest.raises(RateLimited):
        send(fan_user, conversation, "one too many")
    assert Message.objects.count() == 3


def test_unread_counts_follow_messages_and_reads(fan_user, owner, conversation):
    send(fan_user, conversation, "a")
    send(fan_user, conversation, "b")
    conversation.refresh_from_db()
    assert (conversation.shop_unread, conversation.fan_unread) == (2, 0)
    services.conversation_read(user=owner, conversation_id=conversation.pk, seq=1)
    conversation.refresh_from_db()
    assert (conversation.shop_read_seq, conversation.shop_unread) == (1, 1)
    send(owner, conversation, "reply")
    conversation.refresh_from_db()
    # replying means the shop has read everything before its reply
    assert (conversation.shop_unread, conversation.fan_unread, conversation.shop_read_seq) == (0, 1, 3)
    services.conversation_read(user=fan_user, conversation_id=conversation.pk, seq=999)
    conversation.refresh_from_db()
    assert (conversation.fan_read_seq, conversation.fan_unread) == (3, 0)


def test_read_pointer_never_moves_back(fan_user, owner, conversation):
    send(fan_user, conversation, "a")
    send(fan_user, conversation, "b")
    services.conversation_read(user=owner, conversation_id=conversation.pk, seq=2)
    services.conversation_read(user=owner, conversation_id=conversation.pk, seq=1)
    conversation.refresh_from_db()
    assert conversation.shop_read_seq == 2


def test_read_with_a_bad_seq_is_invalid(owner, conversation):
    with pytest.raises(Invalid):
        services.conversation_read(user=owner, conversation_id=conversation.pk, seq="abc")
    with pytest.raises(Invalid):
        services.conversation_read(user=owner, conversation_id=conversation.pk, seq=-1)


def test_assign_to_staff_and_assistants_only_take_for_themselves(owner, staff, conversation, shop):
    services.conversation_assign(actor=owner, conversation_id=conversation.pk, assignee_id=staff.pk)
    conversation.refresh_from_db()
    assert conversation.assigned_to == staff
    assert conversation.fan.assigned_to == staff
    other_assistant = ShopMemberFactory(shop=shop).user
    with pytest.raises(Forbidden):
        services.conversation_assign(
            actor=other_assistant, conversation_id=conversation.pk, assignee_id=staff.pk
        )
    services.conversation_assign(
        actor=other_assistant, conversation_id=conversation.pk, assignee_id=other_assistant.pk
    )
    conversation.refresh_from_db()
    assert conversation.assigned_to == other_assistant


def test_assign_to_someone_outside_the_team_is_invalid(owner, conversation, stranger):
    with pytest.raises(Invalid):
        services.conversation_assign(actor=owner, conversation_id=conversation.pk, assignee_id=stranger.pk)
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


def test_fans_cannot_assign(fan_user, conversation, owner):
    with pytest.raises(NotFound):
        services.conversation_assign(actor=fan_user, conversation_id=conversation.pk, assignee_id=owner.pk)


def test_fan_follow_is_idempotent_and_creates_one_conversation(shop, stranger):
    fan1 = services.fan_follow(user=stranger, shop=shop, display_name="新粉丝")
    fan2 = services.fan_follow(user=stranger, shop=shop, display_name="另一个名字")
    assert fan1.pk == fan2.pk
    assert Conversation.objects.filter(fan=fan1).count() == 1


def test_system_message_counts_as_unread_for_the_fan(conversation):
    message = services.system_message_post(conversation=conversation, text="活动已成团")
    conversation.refresh_from_db()
    assert message.side == "system" and message.seq == 1
    assert conversation.fan_unread == 1 and conversation.shop_unread == 0


def test_sending_takes_a_bounded_number_of_queries(fan_user, conversation):
    send(fan_user, conversation, "warm up")
    with CaptureQueriesContext(connection) as ctx:
        send(fan_user, conversation, "counted")
    assert len(ctx.captured_queries) <= 10
