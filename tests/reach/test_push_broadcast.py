"""A broadcast's pushes through the real wiring (the Celery task is eager in tests): only fans with a device
are pushed, and the push task builds a model only for the messages it pushes. Building every message of a
batch with its conversation, shop and fan made a 100k broadcast three times slower (bench/broadcast.py)."""

import pytest
from django.db.models.signals import post_init

from fans.bot import services as bot
from fans.bot.models import PromoDelivery
from fans.chat.models import Message
from reach.services import push
from reach.services.push import DEVICE_CHECK_MIN, push_for_messages
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def built_messages():
    """Message instances the ORM builds (Model.__init__ sends post_init)."""
    built: list[Message] = []

    def record(sender, instance, **kwargs):
        built.append(instance)

    post_init.connect(record, sender=Message, weak=False)
    yield built
    post_init.disconnect(record, sender=Message)


def test_broadcast_pushes_only_fans_with_a_device(shop, owner, no_quiet_hours, push_server, subscribe):
    fans = [FanFactory(shop=shop) for _ in range(30)]
    subscribe(fans[7].user, "fan-7-phone")
    member = shop.members.get(user=owner)

    broadcast = bot.broadcast_create(
        member=member, kind="text", text="双十二开团", fan_ids=[f.pk for f in fans]
    )

    assert [r.path for r in push_server.received] == ["/push/fan-7-phone"]
    assert PromoDelivery.objects.filter(broadcast=broadcast, status="sent").count() == 30


def test_push_task_builds_only_the_messages_it_pushes(
    shop, owner, no_quiet_hours, push_server, subscribe, built_messages
):
    fans = [FanFactory(shop=shop) for _ in range(40)]
    member = shop.members.get(user=owner)
    broadcast = bot.broadcast_create(
        member=member, kind="text", text="新品上架", fan_ids=[f.pk for f in fans]
    )
    ids = list(Message.objects.filter(text="新品上架").values_list("pk", flat=True))
    assert len(ids) == 40 and broadcast.queued == 40
    subscribe(fans[3].user, "fan-3-phone")
    built_messages.clear()

    result = push_for_messages(message_ids=ids, marketing_ids=ids)

    assert result["sent"] == 1
    assert [m.conversation.fan_id for m in built_messages] == [fans[3].pk]
    assert push_server.received[-1].path == "/push/fan-3-phone"


def test_a_large_batch_dispatches_only_the_fans_with_a_device(
    shop, owner, no_quiet_hours, subscribe, monkeypatch
):
    dispatched = []
    monkeypatch.setattr(push, "task_dispatch", lambda name, *args: dispatched.append((name, *args)))
    fans = [FanFactory(shop=shop) for _ in range(DEVICE_CHECK_MIN + 10)]
    subscribe(fans[5].user, "fan-5-phone")
    member = shop.members.get(user=owner)

    bot.broadcast_create(member=member, kind="text", text="限时秒杀", fan_ids=[f.pk for f in fans])

    pushed = Message.objects.get(conversation__fan=fans[5], text="限时秒杀").pk
    assert dispatched == [("reach.tasks.push_messages_task", [pushed], [pushed])]
