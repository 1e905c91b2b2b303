"""Around a broadcast: the audience count before it, the skipped fans by name and reason after it, "send
later" for those the budget or quiet hours held back, campaign cards, and the audit log's labels."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from fans.bot import services as bot
from fans.bot.models import BotSettings, Broadcast, PromoDelivery
from fans.chat.models import Fan, Message, MessageKind
from fans.crm.models import AuditLog, Segment
from tests.factories import FanFactory, ProductFactory, ShopMemberFactory

pytestmark = pytest.mark.django_db


def send(api, shop, body):
    response = api.post("/api/broadcasts/", {"shop": shop.pk, **body}, format="json")
    assert response.status_code == 201, response.content
    bot.broadcast_run(broadcast_id=response.json()["id"])
    return Broadcast.objects.get(pk=response.json()["id"])


@pytest.fixture
def budget(shop):
    return BotSettings.objects.create(
        shop=shop, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0), promo_per_day=1, promo_per_week=5
    )


@pytest.fixture
def mixed(shop, budget):
    """One fan reachable, one opted out, one who already had today's promotion."""
    reachable = FanFactory(shop=shop, display_name="可达")
    opted_out = FanFactory(shop=shop, display_name="不要推送")
    Fan.objects.filter(pk=opted_out.pk).update(promotions_opt_out=True)
    spent = FanFactory(shop=shop, display_name="今天收过")
    PromoDelivery.objects.create(fan=spent, source="broadcast", status="sent", created_at=timezone.now())
    return reachable, opted_out, spent


def test_preview_counts_all_fans_or_a_segment(api_for, shop, owner):
    for _ in range(3):
        FanFactory(shop=shop)
    vip = FanFactory(shop=shop)
    segment = Segment.objects.create(shop=shop, name="VIP", filter={"q": vip.display_name})
    api = api_for(owner)
    assert api.get(f"/api/broadcasts/preview/?shop={shop.pk}").json() == {"count": 4}
    assert api.get(f"/api/broadcasts/preview/?shop={shop.pk}&segment={segment.pk}").json() == {"count": 1}


def test_preview_refuses_another_shops_segment_and_strangers(api_for, shop, owner, other_shop, stranger):
    theirs = Segment.objects.create(shop=other_shop, name="别人的", filter={})
    response = api_for(owner).get(f"/api/broadcasts/preview/?shop={shop.pk}&segment={theirs.pk}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api_for(owner).get(f"/api/broadcasts/preview/?shop={shop.pk}&segment=x").status_code == 400
    assert api_for(stranger).get(f"/api/broadcasts/preview/?shop={shop.pk}").status_code == 404


def test_skipped_fans_are_listed_by_name_with_their_reason(api_for, shop, owner, mixed):
    reachable, opted_out, spent = mixed
    broadcast = send(api_for(owner), shop, {"kind": "text", "text": "上新啦", "filter": {}})
    assert (broadcast.sent, broadcast.skipped_opt_out, broadcast.skipped_budget) == (1, 1, 1)
    body = api_for(owner).get(f"/api/broadcasts/{broadcast.pk}/skipped/").json()
    rows = {r["fan_name"]: r for r in body["results"]}
    assert set(rows) == {"不要推送", "今天收过"}
    assert rows["不要推送"]["reason"] == "skipped_opt_out" and not rows["不要推送"]["retryable"]
    assert rows["今天收过"]["reason"] == "skipped_budget" and rows["今天收过"]["retryable"]
    assert rows["今天收过"]["reason_label"]
    assert body["send_later"] is None


def test_send_later_schedules_the_retryable_fans_and_the_beat_sends_them_when_due(
    api_for, shop, owner, mixed, django_capture_on_commit_callbacks
):
    reachable, opted_out, spent = mixed
    api = api_for(owner)
    broadcast = send(api, shop, {"kind": "text", "text": "上新啦", "filter": {}})
    at = timezone.now() + dt.timedelta(hours=20)
    response = api.post(f"/api/broadcasts/{broadcast.pk}/send-later/", {"at": at.isoformat()}, format="json")
    assert response.status_code == 201, response.content
    later = Broadcast.objects.get(pk=response.json()["id"])
    assert later.selection == {"fan_ids": [spent.pk]} and later.scheduled_at == at
    assert later.retry_of_id == broadcast.pk and later.text == "上新啦"
    assert AuditLog.objects.filter(action="broadcast.schedule", count=1).exists()
    # Not before its time, whoever runs it.
    bot.broadcast_run(broadcast_id=later.pk)
    assert Broadcast.objects.get(pk=later.pk).status == "queued"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert bot.broadcasts_due() == 0
    assert callbacks == []
    # Its time comes (the fan's budget too, a day later).
    due = timezone.now()
    Broadcast.objects.filter(pk=later.pk).update(scheduled_at=due, heartbeat_at=due)
    PromoDelivery.objects.filter(fan=spent, broadcast__isnull=True).update(
        created_at=timezone.now() - dt.timedelta(days=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert bot.broadcasts_due() == 1
    assert bot.broadcasts_due() == 0  # dispatched once
    later.refresh_from_db()
    assert (later.status, later.sent) == ("succeeded", 1)
    assert Message.objects.filter(conversation__fan=spent, text="上新啦").count() == 1
    assert not Message.objects.filter(conversation__fan=opted_out).exists()
    assert api.get(f"/api/broadcasts/{broadcast.pk}/skipped/").json()["send_later"]["id"] == later.pk


@pytest.mark.parametrize(
    "hours, code", [(-1, "send_at_invalid"), (0, "send_at_invalid"), (24 * 8, "send_at_invalid")]
)
def test_send_later_refuses_a_time_out_of_range(api_for, shop, owner, mixed, hours, code):
    broadcast = send(api_for(owner), shop, {"kind": "text", "text": "上新啦", "filter": {}})
    at = timezone.now() + dt.timedelta(hours=hours)
    response = api_for(owner).post(
        f"/api/broadcasts/{broadcast.pk}/send-later/", {"at": at.isoformat()}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == code
    assert Broadcast.objects.count() == 1


def test_send_later_is_once_per_broadcast_and_needs_skipped_fans(api_for, shop, owner, mixed, budget):
    api = api_for(owner)
    broadcast = send(api, shop, {"kind": "text", "text": "上新啦", "filter": {}})
    at = (timezone.now() + dt.timedelta(hours=3)).isoformat()
    url = f"/api/broadcasts/{broadcast.pk}/send-later/"
    assert api.post(url, {"at": at}, format="json").status_code == 201
    again = api.post(url, {"at": at}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_scheduled"
    reachable = mixed[0]
    budget.promo_per_day = 5
    budget.save()
    only_reachable = send(api, shop, {"kind": "text", "text": "再来", "fan_ids": [reachable.pk]})
    nothing = api.post(f"/api/broadcasts/{only_reachable.pk}/send-later/", {"at": at}, format="json")
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_skipped"
    assert Broadcast.objects.count() == 3


def test_send_later_is_for_owners_and_managers(api_for, shop, owner, mixed):
    broadcast = send(api_for(owner), shop, {"kind": "text", "text": "上新啦", "filter": {}})
    assistant = ShopMemberFactory(shop=shop, role="assistant").user
    at = (timezone.now() + dt.timedelta(hours=3)).isoformat()
    response = api_for(assistant).post(
        f"/api/broadcasts/{broadcast.pk}/send-later/", {"at": at}, format="json"
    )
    assert response.status_code == 403
    assert Broadcast.objects.count() == 1


def test_a_campaign_card_can_be_broadcast(api_for, shop, owner, budget):
    from tests.preorders.conftest import make_campaign

    fan = FanFactory(shop=shop)
    campaign = make_campaign(owner, ProductFactory(shop=shop, name="羽绒服", price=Decimal("599.00")))
    broadcast = send(api_for(owner), shop, {"kind": "campaign_card", "campaign": campaign.pk, "filter": {}})
    message = Message.objects.get(conversation__fan=fan)
    assert message.kind == MessageKind.CAMPAIGN_CARD
    assert message.payload["campaign"] == campaign.pk and message.payload["title"] == campaign.title
    assert broadcast.sent == 1


def test_the_broadcast_page_offers_live_campaigns_as_cards(client, shop, owner):
    from tests.factories import PASSWORD
    from tests.preorders.conftest import make_campaign

    campaign = make_campaign(owner, ProductFactory(shop=shop, price=Decimal("599.00")), title="冬季羽绒服团")
    make_campaign(owner, ProductFactory(shop=shop, price=Decimal("599.00")), title="草稿团", launch=False)
    client.login(username=owner.username, password=PASSWORD)
    page = client.get(f"/broadcasts/?shop={shop.pk}").content.decode()
    assert f'<option value="{campaign.pk}">冬季羽绒服团</option>' in page
    assert "草稿团" not in page


def test_the_audit_log_shows_labels_and_keeps_the_code(api_for, shop, owner, budget):
    FanFactory(shop=shop)
    send(api_for(owner), shop, {"kind": "text", "text": "上新啦", "filter": {}})
    AuditLog.objects.create(shop=shop, actor=owner, action="something.new")
    rows = api_for(owner).get(f"/api/audit-log/?shop={shop.pk}", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    by_code = {r["action"]: r["action_label"] for r in rows["results"]}
    assert by_code["broadcast.create"] == "发送了群发消息"
    assert by_code["something.new"] == "其他操作"
    english = api_for(owner).get(f"/api/audit-log/?shop={shop.pk}", HTTP_ACCEPT_LANGUAGE="en").json()
    assert {r["action"]: r["action_label"] for r in english["results"]}[
        "broadcast.create"
    ] == "Sent a broadcast"
