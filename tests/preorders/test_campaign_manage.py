"""Closing early, extending once and cancelling a live group campaign, through the API."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from fans.chat.models import Message
from fans.crm.models import AuditLog
from payments.ledger import unbalanced_transactions
from payments.models import LedgerTransaction
from preorders.models import Campaign, CampaignNotice, Pledge
from preorders.services import pledge_place
from shops.models import ShopRole
from tests.factories import FanFactory, ShopMemberFactory
from tests.preorders.conftest import expire, make_campaign

pytestmark = pytest.mark.django_db


def pledge(campaign, variant, fan, quantity):
    return pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=quantity)[0]


@pytest.fixture
def campaign(owner, product):
    return make_campaign(owner, product[0])  # target 10, cap 20, per-fan 5, deposit 10%


@pytest.fixture
def fans(shop):
    return [FanFactory(shop=shop) for _ in range(3)]


def state(campaign):
    c = Campaign.objects.get(pk=campaign.pk)
    return (
        c.status,
        c.deadline,
        c.balance_deadline,
        c.ship_by,
        c.extended_at,
        c.cancelled_at,
        c.closed_at,
        list(Pledge.objects.filter(campaign=c).order_by("pk").values_list("status", flat=True)),
        LedgerTransaction.objects.filter(campaign_id=c.pk).count(),
    )


# --- close now ------------------------------------------------------------------------------------------


def test_close_refused_below_target_changes_nothing(api_for, owner, campaign, product, fans):
    pledge(campaign, product[1], fans[0], 4)
    before = state(campaign)
    r = api_for(owner).post(f"/api/campaigns/{campaign.pk}/close/")
    assert r.status_code == 409 and r.json()["code"] == "target_not_reached"
    assert r.json()["detail"] == {"committed_quantity": 4, "target_quantity": 10}
    assert state(campaign) == before


def test_close_now_confirms_pledges_tells_fans_and_is_idempotent(
    api_for, owner, campaign, product, fans, django_capture_on_commit_callbacks
):
    for f in fans[:2]:
        pledge(campaign, product[1], f, 5)  # 10: the target, tier 450.00
    announced = campaign.deadline
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(owner).post(f"/api/campaigns/{campaign.pk}/close/")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "succeeded" and body["closed_at"] and body["closed_early_at"]
    assert body["final_unit_price"] == "450.00"
    campaign.refresh_from_db()
    assert campaign.original_deadline == announced and campaign.deadline <= timezone.now()
    assert campaign.balance_deadline > campaign.deadline  # the balance window is still ahead
    assert set(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"confirmed"}
    assert CampaignNotice.objects.filter(campaign=campaign, kind="succeeded").count() == 2
    assert AuditLog.objects.filter(shop=campaign.shop, action="campaign.close_early").count() == 1
    before = state(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        again = api_for(owner).post(f"/api/campaigns/{campaign.pk}/close/")
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert state(campaign) == before
    assert CampaignNotice.objects.filter(campaign=campaign).count() == 2
    assert AuditLog.objects.filter(action="campaign.close_early").count() == 1
    assert unbalanced_transactions() == []


def test_close_refused_for_failed_and_draft(api_for, owner, product):
    draft = make_campaign(owner, product[0], launch=False)
    r = api_for(owner).post(f"/api/campaigns/{draft.pk}/close/")
    assert r.status_code == 409 and r.json()["code"] == "campaign_not_live"
    failed = make_campaign(owner, product[0])
    Campaign.objects.filter(pk=failed.pk).update(status="failed")
    r = api_for(owner).post(f"/api/campaigns/{failed.pk}/close/")
    assert r.status_code == 409 and r.json()["code"] == "campaign_not_live"


@pytest.mark.parametrize("action", ["close", "extend", "cancel"])
def test_only_owner_or_manager(api_for, shop, staff, fan_user, stranger, campaign, action):
    body = {"deadline": (campaign.deadline + dt.timedelta(days=1)).isoformat()}
    before = state(campaign)
    for user in (staff, fan_user, stranger):
        r = api_for(user).post(f"/api/campaigns/{campaign.pk}/{action}/", body, format="json")
        assert r.status_code == 403 and r.json()["code"] == "forbidden", (user, r.json())
    assert state(campaign) == before
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    r = api_for(manager).post(f"/api/campaigns/{campaign.pk}/{action}/", body, format="json")
    assert r.status_code == (409 if action == "close" else 200), r.json()  # close: target not reached


def test_draft_is_404_to_outsiders(api_for, owner, stranger, product):
    draft = make_campaign(owner, product[0], launch=False)
    r = api_for(stranger).post(f"/api/campaigns/{draft.pk}/cancel/")
    assert r.status_code == 404


# --- extend ---------------------------------------------------------------------------------------------


def test_extend_moves_dates_tells_pledgers_once(
    api_for, owner, campaign, product, fans, django_capture_on_commit_callbacks
):
    pledge(campaign, product[1], fans[0], 2)
    pledge(campaign, product[2], fans[1], 1)
    old_deadline, old_balance, old_ship = campaign.deadline, campaign.balance_deadline, campaign.ship_by
    new = old_deadline + dt.timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(owner).post(f"/api/campaigns/{campaign.pk}/extend/", {"deadline": new.isoformat()})
    assert r.status_code == 200, r.json()
    assert r.json()["extended_at"] and r.json()["original_deadline"]
    campaign.refresh_from_db()
    assert campaign.deadline == new and campaign.original_deadline == old_deadline
    assert campaign.balance_deadline == old_balance + dt.timedelta(days=7)
    assert campaign.ship_by == old_ship + dt.timedelta(days=7)
    for f in fans[:2]:
        texts = list(Message.objects.filter(conversation=f.conversation).values_list("text", flat=True))
        assert any("截止时间已延长" in t for t in texts), texts
    assert not Message.objects.filter(conversation=fans[2].conversation, text__contains="延长").exists()
    assert CampaignNotice.objects.filter(campaign=campaign, kind="extended").count() == 2
    before = state(campaign)
    r = api_for(owner).post(
        f"/api/campaigns/{campaign.pk}/extend/", {"deadline": (new + dt.timedelta(days=1)).isoformat()}
    )
    assert r.status_code == 409 and r.json()["code"] == "already_extended"
    assert state(campaign) == before


@pytest.mark.parametrize(
    ("shift", "code"),
    [
        (dt.timedelta(days=14, minutes=1), "deadline_invalid"),
        (dt.timedelta(0), "deadline_invalid"),
        (-dt.timedelta(hours=1), "deadline_invalid"),
        ("not a date", "deadline_invalid"),
    ],
)
def test_extend_bad_deadline_is_400(api_for, owner, campaign, shift, code):
    before = state(campaign)
    value = shift if isinstance(shift, str) else (campaign.deadline + shift).isoformat()
    r = api_for(owner).post(f"/api/campaigns/{campaign.pk}/extend/", {"deadline": value})
    assert r.status_code == 400 and r.json()["code"] == code
    assert r.json()["message"]
    assert state(campaign) == before


def test_extend_after_deadline_is_409(api_for, owner, campaign):
    expire(campaign)
    before = state(campaign)
    r = api_for(owner).post(
        f"/api/campaigns/{campaign.pk}/extend/",
        {"deadline": (timezone.now() + dt.timedelta(days=2)).isoformat()},
    )
    assert r.status_code == 409 and r.json()["code"] == "deadline_passed"
    assert state(campaign) == before


def test_extend_exactly_fourteen_days_is_allowed(api_for, owner, campaign):
    new = campaign.deadline + dt.timedelta(days=14)
    r = api_for(owner).post(f"/api/campaigns/{campaign.pk}/extend/", {"deadline": new.isoformat()})
    assert r.status_code == 200
    assert Campaign.objects.get(pk=campaign.pk).deadline == new


# --- cancel ---------------------------------------------------------------------------------------------


def test_cancel_refunds_everyone_tells_them_and_is_idempotent(
    api_for, owner, campaign, product, fans, provider, django_capture_on_commit_callbacks
):
    placed = [pledge(campaign, product[1], f, n) for f, n in zip(fans, (1, 2, 3), strict=True)]
    deposits = sum(Decimal(p["deposit_amount"]) for p in placed)
    with django_capture_on_commit_callbacks(execute=True):
        r = api_for(owner).post(f"/api/campaigns/{campaign.pk}/cancel/", {"reason": "工厂停产"})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "failed" and body["cancelled_at"] and body["cancel_reason"] == "工厂停产"
    assert set(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"refunded"}
    refunds = LedgerTransaction.objects.filter(campaign_id=campaign.pk, kind="refund")
    assert refunds.count() == 3 and sum(t.amount for t in refunds) == deposits
    assert unbalanced_transactions() == []
    for f, p in zip(fans, placed, strict=True):
        texts = list(Message.objects.filter(conversation=f.conversation).values_list("text", flat=True))
        assert any("已由店铺取消" in t and p["deposit_amount"] in t for t in texts), texts
    before = state(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        again = api_for(owner).post(f"/api/campaigns/{campaign.pk}/cancel/")
    assert again.status_code == 200 and again.json()["status"] == "failed"
    assert state(campaign) == before
    assert CampaignNotice.objects.filter(campaign=campaign).count() == 3
    assert AuditLog.objects.filter(action="campaign.cancel").count() == 1


def test_cancel_after_success_is_409(api_for, owner, campaign, product, fans):
    for f in fans[:2]:
        pledge(campaign, product[1], f, 5)
    assert api_for(owner).post(f"/api/campaigns/{campaign.pk}/close/").status_code == 200
    before = state(campaign)
    r = api_for(owner).post(f"/api/campaigns/{campaign.pk}/cancel/")
    assert r.status_code == 409 and r.json()["code"] == "campaign_not_live"
    assert state(campaign) == before


def test_cancelled_campaign_takes_no_pledges(api_for, owner, campaign, product, fans):
    assert api_for(owner).post(f"/api/campaigns/{campaign.pk}/cancel/").status_code == 200
    r = api_for(fans[0].user).post(
        f"/api/campaigns/{campaign.pk}/pledges/", {"variant": product[1].pk, "quantity": 1}, format="json"
    )
    assert r.status_code == 409 and r.json()["code"] == "campaign_closed"
    assert not Pledge.objects.filter(campaign=campaign).exists()


def test_subscription_is_not_managed_here(api_for, owner, product):
    sub = make_campaign(
        owner,
        product[0],
        kind="subscription",
        cadence="weekly",
        tiers=[],
        cap=None,
        deadline=(timezone.now() + dt.timedelta(days=7)).isoformat(),
    )
    r = api_for(owner).post(f"/api/campaigns/{sub.pk}/cancel/")
    assert r.status_code == 409 and r.json()["code"] == "not_group"


# --- the owner's page -----------------------------------------------------------------------------------


def badge(client, campaign) -> str:
    import re

    html = client.get(f"/campaigns/{campaign.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    return re.search(r'class="status-badge status-(\w+)" data-status-badge>([^<]*)<', html).groups()


def test_page_offers_the_controls_only_while_live(client, owner, campaign):
    client.force_login(owner)
    html = client.get(f"/campaigns/{campaign.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'id="close-now"' in html and "提前成团" in html and 'id="extend-open"' in html
    assert 'id="cancel-open"' in html and "取消活动" in html
    assert 'id="close-now" disabled' in html  # 0 of 10: not yet
    assert badge(client, campaign) == ("live", "进行中")


def test_page_reads_closing_past_the_deadline_not_live(client, owner, campaign):
    client.force_login(owner)
    expire(campaign)
    status, text = badge(client, campaign)
    assert (status, text) == ("closing", "正在结算")
    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="campaign-controls"' not in html


def test_page_reads_cancelled_after_a_cancel(api_for, client, owner, campaign):
    assert api_for(owner).post(f"/api/campaigns/{campaign.pk}/cancel/").status_code == 200
    client.force_login(owner)
    assert badge(client, campaign) == ("cancelled", "已取消")


def test_assistant_sees_no_controls(client, staff, campaign):
    client.force_login(staff)
    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="campaign-controls"' not in html


def test_fan_page_says_a_cancelled_campaign_is_refunded(api_for, client, owner, campaign, product, fans):
    pledge(campaign, product[1], fans[0], 1)
    assert api_for(owner).post(f"/api/campaigns/{campaign.pk}/cancel/").status_code == 200
    client.force_login(fans[0].user)
    html = client.get(f"/campaigns/{campaign.pk}/join/", follow=True, HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = html.content.decode()
    assert 'id="campaign-cancelled"' in text and "全额" in text
    assert 'id="pledge-form"' not in text
