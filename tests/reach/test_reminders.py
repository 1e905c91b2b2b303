"""Follow-ups: POST /api/conversations/<id>/reminders/, the beat that fires them into the inbox's
"reminders" filter and a push, cancel-if-the-fan-writes-first, and listing/cancelling my own."""

import datetime as dt
import uuid

import pytest
from celery import current_app
from django.utils import timezone

from fans.bot.models import BotSettings
from reach.models import Reminder, ReminderStatus
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def _url(conversation):
    return f"/api/conversations/{conversation.pk}/reminders/"


def _soon(**delta):
    return (timezone.now() + dt.timedelta(**(delta or {"days": 1}))).isoformat()


def fire_due():
    """The beat entry, by its scheduled name (config.settings CELERY_BEAT_SCHEDULE)."""
    return current_app.tasks["reach.tasks.reminders_fire_due_task"].apply().get()


def test_staff_sets_a_reminder_with_201(api_for, staff, conversation):
    response = api_for(staff).post(
        _url(conversation), {"at": _soon(days=3), "cancel_on_reply": True}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["cancel_on_reply"] is True
    row = Reminder.objects.get()
    assert (row.user_id, row.conversation_id) == (staff.pk, conversation.pk)


def test_a_bare_date_means_nine_in_the_shops_time_zone(api_for, owner, conversation):
    day = (timezone.now() + dt.timedelta(days=2)).date().isoformat()
    assert api_for(owner).post(_url(conversation), {"at": day}, format="json").status_code == 201
    local = timezone.localtime(Reminder.objects.get().remind_at, timezone=dt.timezone(dt.timedelta(hours=8)))
    assert (local.date().isoformat(), local.hour) == (day, 9)  # the shop is in Asia/Shanghai


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"at": "2020-01-01T10:00:00+08:00"}, "reminder_in_past"),
        ({"at": "tomorrow"}, "reminder_at_invalid"),
        ({}, "reminder_at_invalid"),
        ({"at": "2999-01-01T10:00:00+08:00"}, "reminder_too_far"),
        ({"at": "__soon__", "cancel_on_reply": "yes"}, "cancel_on_reply_invalid"),
    ],
)
def test_bad_reminder_is_a_coded_400_and_stores_nothing(api_for, owner, conversation, body, code):
    if body.get("at") == "__soon__":
        body = {**body, "at": _soon()}
    response = api_for(owner).post(_url(conversation), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Reminder.objects.exists()


def test_only_shop_staff_may_set_one(api_for, fan_user, stranger, conversation, other_shop):
    for user in (fan_user, stranger, other_shop.owner):
        assert api_for(user).post(_url(conversation), {"at": _soon()}, format="json").status_code == 404
    assert not Reminder.objects.exists()


def test_list_and_cancel_my_own_only(api_for, owner, staff, conversation):
    mine = api_for(owner).post(_url(conversation), {"at": _soon()}, format="json").json()["id"]
    api_for(staff).post(_url(conversation), {"at": _soon()}, format="json")
    assert [r["id"] for r in api_for(owner).get("/api/reminders/").json()["results"]] == [mine]
    assert api_for(staff).post(f"/api/reminders/{mine}/cancel/").status_code == 404
    assert api_for(owner).post(f"/api/reminders/{mine}/cancel/").json()["status"] == "cancelled"
    assert api_for(owner).get(_url(conversation)).json()["results"] == []


def test_due_reminder_becomes_an_inbox_item_and_a_push(
    api_for, owner, conversation, push_server, subscribe, django_capture_on_commit_callbacks
):
    subscribe(owner, "owner-phone")
    rid = (
        api_for(owner)
        .post(_url(conversation), {"at": _soon(), "note": "问问她用得怎么样"}, format="json")
        .json()["id"]
    )
    client = api_for(owner)
    assert client.get("/api/conversations/?filter=reminders").json()["results"] == []
    fire_due()
    assert Reminder.objects.get().status == ReminderStatus.PENDING  # not yet due
    Reminder.objects.update(remind_at=timezone.now() - dt.timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert fire_due() == {"fired": 1, "cancelled": 0}
    # The push task, dispatched after the commit; it announced reminder.due to the owner's sockets.
    assert callbacks[0].args == ("reach.tasks.reminder_push_task", rid)
    assert callbacks[1].args[0][0][0] == [f"user.{owner.pk}"]
    listed = client.get(f"/api/conversations/?filter=reminders&shop={conversation.shop_id}").json()["results"]
    assert [c["id"] for c in listed] == [conversation.pk]
    assert client.get(f"/api/conversations/counts/?shop={conversation.shop_id}").json()["reminders"] == 1
    (push,) = push_server.wait_for(1)
    assert push.error == "" and push.payload["body"] == "问问她用得怎么样"
    assert push.payload["url"].startswith(f"/inbox/c/{conversation.pk}/")
    assert fire_due() == {"fired": 0, "cancelled": 0}  # fired once

    # Done: it leaves the inbox's reminders.
    assert client.post(f"/api/reminders/{rid}/cancel/").json()["status"] == "done"
    assert client.get("/api/conversations/?filter=reminders").json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_fan_writing_first_cancels_a_cancel_on_reply_reminder(owner, fan_user, conversation, shop):
    BotSettings.objects.update_or_create(shop=shop, defaults={"enabled": False})
    owner_api = api_client_for(owner)
    owner_api.post(_url(conversation), {"at": _soon(), "cancel_on_reply": True}, format="json")
    owner_api.post(_url(conversation), {"at": _soon(), "cancel_on_reply": False}, format="json")
    response = api_client_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "text", "text": "我用完了，想再买"},
        format="json",
    )
    assert response.status_code in (200, 201)
    statuses = dict(Reminder.objects.values_list("cancel_on_reply", "status"))
    assert statuses == {True: ReminderStatus.FAN_WROTE, False: ReminderStatus.PENDING}


def test_beat_cancels_instead_of_firing_when_the_fan_wrote_since(api_for, owner, conversation):
    """The backstop, should the after-commit push task have been lost."""
    from fans.chat.models import Message, Side

    api_for(owner).post(_url(conversation), {"at": _soon(), "cancel_on_reply": True}, format="json")
    Reminder.objects.update(
        remind_at=timezone.now() - dt.timedelta(seconds=1), created_at=timezone.now() - dt.timedelta(hours=1)
    )
    Message.objects.create(conversation=conversation, seq=1, side=Side.FAN, text="在吗")
    assert fire_due() == {"fired": 0, "cancelled": 1}
    assert Reminder.objects.get().status == ReminderStatus.FAN_WROTE
