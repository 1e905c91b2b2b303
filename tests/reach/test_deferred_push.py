"""Transactional notices in quiet hours: the message is stored at once, its push to the fan's lock screen
waits for the end of quiet hours and is sent then by the beat task, to the local push service (VAPID checked,
payload decrypted) — once, even when the sender is killed and retried."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from fans.bot.models import BotSettings
from fans.bot.services.budget import quiet_hours_end
from fans.chat.presence import presence_connect, presence_disconnect
from fans.chat.services import conversation_read, system_message_post
from reach.models import DeferredPush
from reach.services import deferred_push
from reach.services.push import push_for_messages
from reach.tasks import deferred_pushes_send_due_task
from tests.reach.test_push_delivery import send_http

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quiet_now(shop):
    """Quiet hours from an hour ago to two hours ahead, on the shop's clock; the bot off (no away message)."""
    local = timezone.now().astimezone(ZoneInfo(shop.timezone))
    BotSettings.objects.update_or_create(
        shop=shop,
        defaults={
            "enabled": False,
            "quiet_start": (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0),
            "quiet_end": (local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0),
        },
    )
    return quiet_hours_end(shop, timezone.now())


def notice(conversation, text="尾款待支付：¥120.00"):
    return system_message_post(conversation=conversation, text=text)


def test_a_notice_in_quiet_hours_pushes_at_their_end_not_before(
    conversation, fan_user, push_server, subscribe, quiet_now
):
    subscribe(fan_user, "fan-phone")
    message = notice(conversation)  # through the real listener and the (eager) push task

    assert push_server.wait_for(1, timeout=1.0) == []
    row = DeferredPush.objects.get()
    assert (row.message_id, row.user_id, row.state, row.due_at) == (
        message.pk,
        fan_user.pk,
        "pending",
        quiet_now,
    )
    # Still quiet one minute before the end: the beat leaves it.
    assert deferred_push.deferred_pushes_send_due(now=quiet_now - dt.timedelta(minutes=1))["sent"] == 0
    assert push_server.count == 0

    assert deferred_push.deferred_pushes_send_due(now=quiet_now)["sent"] == 1
    (push,) = push_server.wait_for(1)
    assert push.error == "" and push.headers["topic"] == f"c{conversation.pk}"
    assert "120" not in push.payload["body"]  # lock-screen privacy holds for deferred pushes too
    assert DeferredPush.objects.get().state == "sent"
    # The beat task again (and again): nothing more.
    deferred_pushes_send_due_task.delay()
    assert deferred_push.deferred_pushes_send_due(now=quiet_now + dt.timedelta(minutes=5))["sent"] == 0
    assert push_server.wait_for(2, timeout=0.5) and push_server.count == 1


def test_a_retried_push_task_stores_the_push_once(conversation, fan_user, push_server, subscribe):
    subscribe(fan_user, "fan-phone")
    message = notice(conversation)
    assert push_for_messages(message_ids=[message.pk])["deferred"] == 0  # already stored by the first run
    assert DeferredPush.objects.count() == 1


def test_collapsed_per_conversation_only_the_latest_goes(
    conversation, fan_user, push_server, subscribe, quiet_now
):
    subscribe(fan_user, "fan-phone")
    notice(conversation, "尾款待支付")
    notice(conversation, "已发货：顺丰 SF123")
    assert DeferredPush.objects.count() == 2
    assert deferred_push.deferred_pushes_send_due(now=quiet_now)["sent"] == 1
    assert push_server.wait_for(2, timeout=1.0) and push_server.count == 1
    assert sorted(DeferredPush.objects.values_list("state", "reason")) == [
        ("sent", ""),
        ("skipped", "replaced"),
    ]


def test_read_or_online_meanwhile_means_no_push(
    conversation, fan_user, push_server, subscribe, quiet_now, fan
):
    subscribe(fan_user, "fan-phone")
    message = notice(conversation)
    conversation_read(user=fan_user, conversation_id=conversation.pk, seq=message.seq)
    assert deferred_push.deferred_pushes_send_due(now=quiet_now)["skipped"] == 1
    assert DeferredPush.objects.get().reason == "read"

    notice(conversation, "已发货")
    presence_connect(fan_user.pk)
    try:
        assert deferred_push.deferred_pushes_send_due(now=quiet_now)["skipped"] == 1
    finally:
        presence_disconnect(fan_user.pk)
    assert DeferredPush.objects.filter(reason="online").count() == 1
    assert push_server.wait_for(1, timeout=0.5) == []


def test_a_killed_sender_is_retried_once_and_concurrent_beats_send_once(
    conversation, fan_user, push_server, subscribe, quiet_now
):
    subscribe(fan_user, "fan-phone")
    notice(conversation)
    # A worker claims the row and dies before sending.
    assert deferred_push._claim(quiet_now, 100) == [DeferredPush.objects.get().pk]
    # Its claim is fresh: another beat does not take it over.
    assert deferred_push.deferred_pushes_send_due(now=quiet_now + dt.timedelta(minutes=1))["sent"] == 0
    # Stale: retried, by two beats at once; the push goes exactly once.
    later = quiet_now + deferred_push.CLAIM_STALE + dt.timedelta(seconds=1)
    results = []

    def beat() -> None:
        try:
            results.append(deferred_push.deferred_pushes_send_due(now=later))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["sent"] for r in results) == [0, 1]
    assert push_server.wait_for(2, timeout=1.0) and push_server.count == 1
    assert DeferredPush.objects.get().state == "sent"


def test_staff_pushes_and_replies_do_not_wait_for_the_fans_quiet_hours(
    owner, fan_user, conversation, push_server, subscribe
):
    subscribe(owner, "owner-phone")
    subscribe(fan_user, "fan-phone")
    send_http(fan_user, conversation, "还在吗")  # fan → staff: now
    send_http(owner, conversation, "在的")  # a person's reply in the conversation: now
    pushes = push_server.wait_for(2)
    assert sorted(p.path for p in pushes) == ["/push/fan-phone", "/push/owner-phone"]
    assert not DeferredPush.objects.exists()
