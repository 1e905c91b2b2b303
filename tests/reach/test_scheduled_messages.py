"""Scheduled single messages (issue 16 part 3): staff schedule a message to one fan for a time on the shop's
clock, edit or cancel it until it goes; the beat sends it once, through the message core, deferring it to the
end of quiet hours when it would fall inside them."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from celery import current_app
from django.utils import timezone

from fans.bot.models import BotSettings
from fans.chat.models import Message, Side
from reach.models import ScheduledMessage
from reach.services import scheduled

pytestmark = pytest.mark.django_db


def _url(conversation):
    return f"/api/conversations/{conversation.pk}/scheduled-messages/"


def send_due(now=None):
    if now is None:  # the beat entry, by its scheduled name
        return current_app.tasks["reach.tasks.scheduled_messages_send_due_task"].apply().get()
    return scheduled.scheduled_messages_send_due(now=now)


@pytest.fixture
def open_hours(shop):
    return BotSettings.objects.update_or_create(
        shop=shop, defaults={"quiet_start": dt.time(0, 0), "quiet_end": dt.time(0, 0)}
    )[0]


def test_staff_schedule_a_message_and_the_beat_sends_it_once_when_due(
    api_for, staff, conversation, open_hours
):
    at = timezone.now() + dt.timedelta(hours=3)
    response = api_for(staff).post(
        _url(conversation), {"text": "明天到货提醒你～", "send_at": at.isoformat()}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["text"] == "明天到货提醒你～"
    assert send_due() == {"sent": 0, "deferred": 0, "failed": 0, "retry": 0}
    assert not Message.objects.filter(text="明天到货提醒你～").exists()
    listed = api_for(staff).get(_url(conversation)).json()["results"]
    assert [m["id"] for m in listed] == [body["id"]]

    ScheduledMessage.objects.filter(pk=body["id"]).update(send_at=timezone.now() - dt.timedelta(seconds=1))
    assert send_due()["sent"] == 1
    assert send_due()["sent"] == 0  # once
    message = Message.objects.get(text="明天到货提醒你～")
    assert (message.side, message.sender_id, message.conversation_id) == (
        Side.SHOP,
        staff.pk,
        conversation.pk,
    )
    row = ScheduledMessage.objects.get(pk=body["id"])
    assert row.status == "sent" and row.message_id == message.pk


def test_a_rerun_after_a_worker_died_mid_send_finds_the_first_message(
    api_for, staff, conversation, open_hours
):
    at = timezone.now() + dt.timedelta(hours=1)
    pk = (
        api_for(staff)
        .post(_url(conversation), {"text": "补发测试", "send_at": at.isoformat()}, format="json")
        .json()["id"]
    )
    row = ScheduledMessage.objects.get(pk=pk)
    # A worker claimed it and sent the message, then died before marking the row.
    ScheduledMessage.objects.filter(pk=pk).update(
        status="sending", claimed_at=timezone.now() - dt.timedelta(minutes=10), send_at=timezone.now()
    )
    from fans.chat.services import message_send

    message_send(user=staff, conversation_id=conversation.pk, client_id=str(row.client_id), text="补发测试")
    assert send_due()["sent"] == 1
    assert Message.objects.filter(text="补发测试").count() == 1
    assert ScheduledMessage.objects.get(pk=pk).status == "sent"


def test_the_author_edits_and_cancels_until_it_goes(api_for, staff, conversation, open_hours):
    api = api_for(staff)
    at = timezone.now() + dt.timedelta(days=1)
    pk = api.post(_url(conversation), {"text": "原文", "send_at": at.isoformat()}, format="json").json()["id"]
    later = at + dt.timedelta(hours=2)
    edited = api.patch(
        f"/api/scheduled-messages/{pk}/", {"text": "改后", "send_at": later.isoformat()}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["text"] == "改后"
    assert ScheduledMessage.objects.get(pk=pk).send_at == later
    assert api.post(f"/api/scheduled-messages/{pk}/cancel/").json()["status"] == "cancelled"
    ScheduledMessage.objects.filter(pk=pk).update(send_at=timezone.now() - dt.timedelta(seconds=1))
    assert send_due()["sent"] == 0
    assert not Message.objects.filter(text="改后").exists()
    refused = api.patch(f"/api/scheduled-messages/{pk}/", {"text": "再改"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "scheduled_message_done"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "hi", "send_at": "2020-01-01T10:00:00+08:00"}, "send_at_past"),
        ({"text": "hi", "send_at": "2999-01-01T10:00:00+08:00"}, "send_at_too_far"),
        ({"text": "hi", "send_at": "soon"}, "send_at_invalid"),
        ({"text": "", "send_at": "__soon__"}, "invalid"),
        ({"text": 5, "send_at": "__soon__"}, "invalid"),
    ],
)
def test_bad_input_is_a_coded_400_and_stores_nothing(api_for, staff, conversation, body, code):
    if body["send_at"] == "__soon__":
        body = {**body, "send_at": (timezone.now() + dt.timedelta(hours=1)).isoformat()}
    response = api_for(staff).post(_url(conversation), body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code, response.content
    assert not ScheduledMessage.objects.exists()


def test_only_the_shops_staff_schedule_and_only_the_author_edits(
    api_for, staff, owner, conversation, fan_user, stranger
):
    at = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    for outsider in (fan_user, stranger):
        response = api_for(outsider).post(_url(conversation), {"text": "x", "send_at": at}, format="json")
        assert response.status_code == 404
        assert api_for(outsider).get(_url(conversation)).status_code == 404
    pk = api_for(staff).post(_url(conversation), {"text": "x", "send_at": at}, format="json").json()["id"]
    assert (
        api_for(owner).patch(f"/api/scheduled-messages/{pk}/", {"text": "y"}, format="json").status_code
        == 404
    )
    assert api_for(stranger).post(f"/api/scheduled-messages/{pk}/cancel/").status_code == 404
    assert ScheduledMessage.objects.get(pk=pk).text == "x"


def test_a_time_in_quiet_hours_waits_for_them_to_end(api_for, staff, conversation, shop):
    local = timezone.now().astimezone(ZoneInfo(shop.timezone))
    BotSettings.objects.update_or_create(
        shop=shop,
        defaults={
            "quiet_start": (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0),
            "quiet_end": (local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0),
        },
    )
    at = timezone.now() + dt.timedelta(minutes=5)
    pk = (
        api_for(staff)
        .post(_url(conversation), {"text": "晚安", "send_at": at.isoformat()}, format="json")
        .json()["id"]
    )
    assert send_due(now=at + dt.timedelta(seconds=1))["deferred"] == 1
    row = ScheduledMessage.objects.get(pk=pk)
    assert row.asked_at == at and row.send_at > at and row.status == "pending"
    assert not Message.objects.filter(text="晚安").exists()


def test_a_message_whose_author_left_the_team_fails_with_the_reason(
    api_for, staff, conversation, open_hours, shop
):
    at = timezone.now() + dt.timedelta(hours=1)
    pk = (
        api_for(staff)
        .post(_url(conversation), {"text": "离职前写的", "send_at": at.isoformat()}, format="json")
        .json()["id"]
    )
    shop.members.filter(user=staff).update(is_active=False)
    ScheduledMessage.objects.filter(pk=pk).update(send_at=timezone.now() - dt.timedelta(seconds=1))
    assert send_due()["failed"] == 1
    row = ScheduledMessage.objects.get(pk=pk)
    assert row.status == "failed" and row.error
    assert not Message.objects.filter(text="离职前写的").exists()
