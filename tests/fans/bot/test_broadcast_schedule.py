"""Scheduled broadcasts (send_at, edit and cancel until they go) and quiet hours that defer instead of
skipping, through the API and the beat's services (issue 16, part 3)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from fans.bot import services as bot
from fans.bot.models import BotSettings, Broadcast, PromoDelivery
from fans.chat.models import Fan, Message
from fans.crm.models import AuditLog
from tests.factories import FanFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_hours(shop):
    return BotSettings.objects.update_or_create(
        shop=shop,
        defaults={
            "quiet_start": dt.time(0, 0),
            "quiet_end": dt.time(0, 0),
            "promo_per_day": 1,
            "promo_per_week": 5,
        },
    )[0]


@pytest.fixture
def quiet_now(shop):
    """Quiet hours from an hour ago to two hours ahead on the shop's clock."""
    local = timezone.now().astimezone(ZoneInfo(shop.timezone))
    start = (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    return BotSettings.objects.update_or_create(
        shop=shop, defaults={"quiet_start": start, "quiet_end": end, "promo_per_day": 1, "promo_per_week": 5}
    )[0]


def post(api, shop, **body):
    return api.post(
        "/api/broadcasts/",
        {"shop": shop.pk, "kind": "text", "text": "周末上新", "filter": {}, **body},
        format="json",
    )


def make_due(broadcast_id):
    now = timezone.now() - dt.timedelta(seconds=1)
    Broadcast.objects.filter(pk=broadcast_id).update(scheduled_at=now, heartbeat_at=now)


def test_a_scheduled_broadcast_waits_can_be_edited_and_goes_out_when_due(
    api_for, shop, owner, open_hours, django_capture_on_commit_callbacks
):
    fans = [FanFactory(shop=shop) for _ in range(3)]
    api = api_for(owner)
    at = timezone.now() + dt.timedelta(hours=5)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, shop, send_at=at.isoformat())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled" and body["sent"] == 0
    assert dt.datetime.fromisoformat(body["send_at"].replace("Z", "+00:00")) == at
    pk = body["id"]
    assert not Message.objects.filter(text="周末上新").exists()
    assert AuditLog.objects.filter(action="broadcast.schedule", count=3).exists()
    # Nothing runs it early: not the beat, not a stray dispatch.
    assert bot.broadcasts_due() == 0
    bot.broadcast_run(broadcast_id=pk)
    assert api.get(f"/api/broadcasts/{pk}/").json()["status"] == "scheduled"

    later = at + dt.timedelta(hours=1)
    edited = api.patch(
        f"/api/broadcasts/{pk}/", {"text": "周末上新（改）", "send_at": later.isoformat()}, format="json"
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["text"] == "周末上新（改）" and edited.json()["status"] == "scheduled"
    assert Broadcast.objects.get(pk=pk).scheduled_at == later

    make_due(pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert bot.broadcasts_due() == 1
    detail = api.get(f"/api/broadcasts/{pk}/").json()
    assert (detail["status"], detail["sent"], detail["deferred"], detail["skipped"]) == ("succeeded", 3, 0, 0)
    assert detail["skipped_reasons"] == {"over_budget": 0, "opted_out": 0, "no_channel": 0}
    for fan in fans:
        assert Message.objects.filter(conversation__fan=fan, text="周末上新（改）").count() == 1
    # Once it has gone it cannot be edited, and the refusal changes nothing.
    refused = api.patch(f"/api/broadcasts/{pk}/", {"text": "太晚了"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "broadcast_started"
    assert Broadcast.objects.get(pk=pk).text == "周末上新（改）"


@pytest.mark.parametrize(
    ("send_at", "code"),
    [
        (lambda: (timezone.now() - dt.timedelta(minutes=5)).isoformat(), "send_at_past"),
        (lambda: (timezone.now() + dt.timedelta(days=91)).isoformat(), "send_at_too_far"),
        (lambda: "next tuesday", "send_at_invalid"),
    ],
)
def test_a_send_time_in_the_past_too_far_or_not_a_time_is_refused(
    api_for, shop, owner, open_hours, send_at, code
):
    FanFactory(shop=shop)
    response = post(api_for(owner), shop, send_at=send_at())
    assert response.status_code == 400 and response.json()["code"] == code
    assert response.json()["message"]
    assert not Broadcast.objects.exists()


def test_an_edit_to_a_bad_time_is_refused_and_changes_nothing(api_for, shop, owner, open_hours):
    FanFactory(shop=shop)
    api = api_for(owner)
    at = timezone.now() + dt.timedelta(days=1)
    pk = post(api, shop, send_at=at.isoformat()).json()["id"]
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    refused = api.patch(f"/api/broadcasts/{pk}/", {"text": "改了", "send_at": past}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "send_at_past"
    row = Broadcast.objects.get(pk=pk)
    assert (row.text, row.scheduled_at) == ("周末上新", at)


def test_a_time_without_an_offset_is_the_shops_local_time(api_for, shop, owner, open_hours):
    FanFactory(shop=shop)
    local = (
        (timezone.now() + dt.timedelta(days=2))
        .astimezone(ZoneInfo(shop.timezone))
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    response = post(api_for(owner), shop, send_at=local.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 201, response.content
    assert Broadcast.objects.get(pk=response.json()["id"]).scheduled_at == local


def test_a_cancelled_scheduled_broadcast_never_goes(
    api_for, shop, owner, open_hours, django_capture_on_commit_callbacks
):
    FanFactory(shop=shop)
    api = api_for(owner)
    pk = post(api, shop, send_at=(timezone.now() + dt.timedelta(hours=2)).isoformat()).json()["id"]
    cancelled = api.post(f"/api/broadcasts/{pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    make_due(pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert bot.broadcasts_due() == 0
    bot.broadcast_run(broadcast_id=pk)
    assert not Message.objects.filter(text="周末上新").exists()
    assert (
        api.patch(f"/api/broadcasts/{pk}/", {"text": "x"}, format="json").json()["code"]
        == "broadcast_started"
    )


def test_scheduling_is_for_owners_and_managers_of_the_shop(
    api_for, shop, owner, other_shop, stranger, open_hours
):
    FanFactory(shop=shop)
    at = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    pk = post(api_for(owner), shop, send_at=at).json()["id"]
    staff = ShopMemberFactory(shop=shop).user
    assert post(api_for(staff), shop, send_at=at).status_code == 403
    assert api_for(staff).patch(f"/api/broadcasts/{pk}/", {"text": "x"}, format="json").status_code == 403
    assert api_for(stranger).patch(f"/api/broadcasts/{pk}/", {"text": "x"}, format="json").status_code == 404
    assert Broadcast.objects.get(pk=pk).text == "周末上新"


def test_a_schedule_for_next_week_does_not_use_up_todays_broadcasts(api_for, shop, owner, open_hours):
    FanFactory(shop=shop)
    api = api_for(owner)
    for day in range(1, 6):
        at = timezone.now() + dt.timedelta(days=day * 2)
        assert post(api, shop, send_at=at.isoformat()).status_code == 201
    assert post(api, shop).status_code == 201  # now: the planned ones are days away
    # Three in one hour of one day is the most.
    at = timezone.now() + dt.timedelta(days=30)
    for minutes in (0, 10, 20):
        assert post(api, shop, send_at=(at + dt.timedelta(minutes=minutes)).isoformat()).status_code == 201
    crowded = post(api, shop, send_at=(at + dt.timedelta(minutes=30)).isoformat())
    assert crowded.status_code == 429 and crowded.json()["code"] == "broadcast_rate_limited"


def test_quiet_hours_defer_to_their_end_and_the_budget_is_asked_again_then(api_for, shop, owner, quiet_now):
    fans = [FanFactory(shop=shop) for _ in range(3)]
    api = api_for(owner)
    response = post(api, shop)
    pk = response.json()["id"]
    bot.broadcast_run(broadcast_id=pk)
    detail = api.get(f"/api/broadcasts/{pk}/").json()
    assert (detail["sent"], detail["deferred"], detail["skipped"]) == (0, 3, 0)
    local_end = dt.datetime.combine(
        timezone.now().astimezone(ZoneInfo(shop.timezone)).date(),
        quiet_now.quiet_end,
        ZoneInfo(shop.timezone),
    )
    until = dt.datetime.fromisoformat(detail["deferred_until"].replace("Z", "+00:00"))
    assert until in (local_end, local_end + dt.timedelta(days=1)) and until > timezone.now()
    assert not Message.objects.filter(text="周末上新").exists()
    # Not before the end of quiet hours.
    assert bot.broadcast_deferred_send() == 0
    # Meanwhile one fan had today's promotion: at the end of quiet hours they are over budget.
    PromoDelivery.objects.create(fan=fans[0], source="bot_card", status="sent", created_at=until)
    after = until + dt.timedelta(minutes=1)
    assert bot.broadcast_deferred_send(now=after) == 3
    assert bot.broadcast_deferred_send(now=after) == 0  # each delivery decided once
    detail = api.get(f"/api/broadcasts/{pk}/").json()
    assert (detail["sent"], detail["deferred"], detail["skipped_reasons"]["over_budget"]) == (2, 0, 1)
    assert detail["deferred_until"] is None
    assert not Message.objects.filter(conversation__fan=fans[0], text="周末上新").exists()
    for fan in fans[1:]:
        assert Message.objects.filter(conversation__fan=fan, text="周末上新").count() == 1
    sent = PromoDelivery.objects.filter(broadcast_id=pk, status="sent")
    assert all(row.message_id and row.created_at == after for row in sent)
    skipped = api.get(f"/api/broadcasts/{pk}/skipped/").json()["results"]
    assert [(r["fan"], r["reason"]) for r in skipped] == [(fans[0].pk, "skipped_budget")]


def test_deferred_deliveries_of_a_cancelled_broadcast_never_go(api_for, shop, owner, quiet_now):
    FanFactory(shop=shop)
    FanFactory(shop=shop)
    api = api_for(owner)
    pk = post(api, shop).json()["id"]
    bot.broadcast_run(broadcast_id=pk)
    assert Broadcast.objects.get(pk=pk).status == "succeeded"  # the run is over; two wait for morning
    cancelled = api.post(f"/api/broadcasts/{pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["deferred"] == 0
    assert PromoDelivery.objects.filter(broadcast_id=pk, status="cancelled").count() == 2
    assert bot.broadcast_deferred_send(now=timezone.now() + dt.timedelta(days=1)) == 0
    assert not Message.objects.filter(text="周末上新").exists()
    again = api.post(f"/api/broadcasts/{pk}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "job_finished"


def test_a_fan_with_a_closed_account_is_skipped_for_no_channel(api_for, shop, owner, open_hours):
    gone = FanFactory(shop=shop)
    FanFactory(shop=shop)
    get_user_model().objects.filter(pk=gone.user_id).update(is_active=False)
    pk = post(api_for(owner), shop).json()["id"]
    bot.broadcast_run(broadcast_id=pk)
    detail = api_for(owner).get(f"/api/broadcasts/{pk}/").json()
    assert detail["sent"] == 1 and detail["skipped_reasons"]["no_channel"] == 1
    assert not Message.objects.filter(conversation__fan=gone).exists()
    assert Fan.objects.filter(pk=gone.pk).exists()
