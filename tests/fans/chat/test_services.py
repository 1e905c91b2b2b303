import threading
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.db import is_postgresql
from core.errors import Forbidden, Invalid, NotFound, RateLimited, TooLong
from fans.bot.models import BotSettings
from fans.chat import services
from fans.chat.batch import TextSend, message_send_batch
from fans.chat.models import Conversation, Message, MessageKind
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
    monkeypatch.setattr(
        "core.events.publish_many", lambda batch: published.extend(frame["type"] for groups, frame in batch)
    )
    monkeypatch.setattr(
        "fans.bot.tasks.bot_on_fan_message_task.delay", lambda message_id: bot_tasks.append(message_id)
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
    monkeypatch.setattr(
        "core.events.publish_many", lambda batch: published.extend((groups, frame) for groups, frame in batch)
    )
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


# --- group commit: message_send_batch (the websocket's text sends) ----------------------------------


def text_send(user, conversation_id, text="你好", client_id=None):
    return TextSend(
        user=user, conversation_id=conversation_id, client_id=client_id or uuid.uuid4(), text=text
    )


def test_a_batch_numbers_each_conversation_and_composes_the_counters_in_order(
    fan_user, owner, conversation, shop, django_capture_on_commit_callbacks, monkeypatch
):
    other = FanFactory(shop=shop)
    published, bot_tasks = [], []
    monkeypatch.setattr(
        "core.events.publish_many", lambda batch: published.extend(frame for groups, frame in batch)
    )
    monkeypatch.setattr(
        "fans.bot.tasks.bot_on_fan_message_task.delay", lambda message_id: bot_tasks.append(message_id)
    )
    with django_capture_on_commit_callbacks(execute=True):
        results = message_send_batch(
            [
                text_send(fan_user, conversation.pk, "我是油皮"),
                text_send(other.user, other.conversation.pk, "在吗"),
                text_send(owner, conversation.pk, "推荐控油洁面"),
                text_send(fan_user, conversation.pk, "谢谢"),
            ]
        )
    messages = [message for message, created in results]
    assert all(created for _message, created in results)
    assert [(m.conversation_id, m.seq, m.side) for m in messages] == [
        (conversation.pk, 1, "fan"),
        (other.conversation.pk, 1, "fan"),
        (conversation.pk, 2, "shop"),
        (conversation.pk, 3, "fan"),
    ]
    stored = list(Message.objects.order_by("pk").values_list("pk", "conversation_id", "seq", "text"))
    assert stored == [(m.pk, m.conversation_id, m.seq, m.text) for m in messages]
    conversation.refresh_from_db()
    # What message_send would leave one by one: the fan read up to 3, the shop up to 2, one unread for
    # the shop (the fan's last message), and the bot handed off.
    assert (conversation.last_seq, conversation.fan_read_seq, conversation.shop_read_seq) == (3, 3, 2)
    assert (conversation.fan_unread, conversation.shop_unread) == (0, 1)
    assert conversation.bot_paused and conversation.last_message_preview == "谢谢"
    other.conversation.refresh_from_db()
    assert (other.conversation.last_seq, other.conversation.shop_unread, other.conversation.bot_paused) == (
        1,
        1,
        False,
    )
    assert [f["type"] for f in published] == ["message.new"] * 3 + ["conversation.bot", "message.new"]
    assert [f["message"]["id"] for f in published if f["type"] == "message.new"] == [m.pk for m in messages]
    # As one by one: with the bot off, only a fan's text naming a tag phrase (油皮) is queued for it.
    assert bot_tasks == [messages[0].pk]


def test_refusals_in_a_batch_do_not_stop_the_others(fan_user, conversation, stranger, other_shop):
    results = message_send_batch(
        [
            text_send(fan_user, conversation.pk, "   "),
            text_send(fan_user, conversation.pk, "字" * 4001),
            TextSend(user=fan_user, conversation_id=conversation.pk, client_id="not-a-uuid", text="x"),
            text_send(stranger, conversation.pk, "偷看"),
            text_send(other_shop.owner, conversation.pk, "别家店"),
            text_send(fan_user, 999999, "nowhere"),
            text_send(fan_user, "abc", "nowhere"),
            text_send(fan_user, conversation.pk, "ok"),
        ]
    )
    assert [type(r) for r in results[:7]] == [
        Invalid,
        TooLong,
        Invalid,
        NotFound,
        NotFound,
        NotFound,
        NotFound,
    ]
    message, created = results[7]
    assert created and message.seq == 1
    assert Message.objects.count() == 1


def test_a_resend_in_a_batch_gets_the_first_message_and_the_rest_is_stored(fan_user, conversation):
    first, _ = send(fan_user, conversation, "第一次")
    repeated = text_send(fan_user, conversation.pk, "again")
    results = message_send_batch(
        [
            text_send(fan_user, conversation.pk, "第一次", client_id=first.client_id),
            repeated,
            text_send(fan_user, conversation.pk, "new"),
            repeated,  # the same client_id twice in one batch
        ]
    )
    assert (results[0][0].pk, results[0][1]) == (first.pk, False)
    assert results[1][1] and results[2][1]
    assert (results[3][0].pk, results[3][1]) == (results[1][0].pk, False)
    assert [r[0].seq for r in results] == [1, 2, 3, 2]
    assert Message.objects.count() == 3


def test_a_batch_counts_every_message_against_the_rate_limit(fan_user, conversation, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 2, "RATE_LIMIT_WINDOW_S": 60}
    results = message_send_batch([text_send(fan_user, conversation.pk) for _ in range(3)])
    assert [type(r) for r in results] == [tuple, tuple, RateLimited]
    assert Message.objects.count() == 2


def test_a_batch_takes_the_same_queries_whatever_its_size(fan_user, conversation, shop):
    fans = [FanFactory(shop=shop) for _ in range(10)]
    message_send_batch([text_send(fan_user, conversation.pk, "warm up")])
    with CaptureQueriesContext(connection) as one:
        message_send_batch([text_send(fan_user, conversation.pk)])
    with CaptureQueriesContext(connection) as many:
        message_send_batch([text_send(f.user, f.conversation.pk) for f in fans for _ in range(2)])
    # Elsewhere than PostgreSQL (SQLite in development) each conversation gets its own UPDATE.
    extra = 0 if is_postgresql(connection) else len(fans) - 1
    assert len(many.captured_queries) == len(one.captured_queries) + extra
    assert len(one.captured_queries) <= 6
    assert Message.objects.count() == 22


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_on_the_same_conversations_keep_seq_gapless(shop, settings):
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 1000}
    fans = [FanFactory(shop=shop) for _ in range(4)]
    owner = shop.owner
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def sender(order: list) -> None:
        try:
            start.wait(timeout=10)
            for _round in range(10):
                # Each batch names the conversations in its own order; the lock is taken in id order.
                results = message_send_batch(
                    [text_send(f.user, f.conversation.pk) for f in order]
                    + [text_send(owner, f.conversation.pk) for f in order]
                )
                assert all(isinstance(r, tuple) and r[1] for r in results), results
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(o,)) for o in (fans, fans[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    for f in fans:
        seqs = list(
            Message.objects.filter(conversation=f.conversation).order_by("seq").values_list("seq", flat=True)
        )
        assert seqs == list(range(1, 41))
        f.conversation.refresh_from_db()
        assert f.conversation.last_seq == 40
