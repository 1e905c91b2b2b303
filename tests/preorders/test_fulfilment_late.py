"""慢就赔 through the real app: every paid unit unshipped at ship_by is compensated exactly once, even when
the sweep is killed half-way, charged to the factory only when it had its lead time."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from payments.ledger import statement
from payments.models import Account, LedgerTransaction, SimulatedTransaction
from preorders.models import (
    Campaign,
    Credit,
    FactoryOrder,
    PledgeNotice,
)
from preorders.services import late_compensation as late
from preorders.services.factory_orders import factory_order_transition
from tests.factories import ShopFactory
from tests.preorders.fulfilment_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.fulfilment_helpers import balanced, cards, ship

pytestmark = pytest.mark.django_db


# --- 慢就赔 ----------------------------------------------------------------------------------------------


def past_ship_by(campaign: Campaign) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(ship_by=timezone.now() - dt.timedelta(seconds=1))
    campaign.refresh_from_db()


def test_late_compensation_exactly_once_even_when_killed_mid_run(
    flow, owner, api_for, monkeypatch, django_capture_on_commit_callbacks
):
    from preorders.tasks import late_compensation_due_task

    a, b, c, d = flow.pledges
    ship(api_for(owner), flow.order, [a], "ONTIME")
    # B's parcel was lost: B counts as unshipped.
    lost = ship(api_for(owner), flow.order, [b], "LOSTB").json()["id"]
    api_for(owner).post(f"/api/shipments/{lost}/lost/")
    # Staff see the risk before ship_by.
    risk = api_for(owner).get(f"/api/campaigns/{flow.campaign.pk}/late-risk/").json()
    assert risk["unshipped_units"] == 9 and risk["unshipped_pledges"] == 3 and risk["paid_units"] == 12
    assert risk["compensation_at_risk"] == "202.50" and risk["seconds_left"] > 0  # 3 x 5% of 1350
    past_ship_by(flow.campaign)

    paid_out = []

    def killed(credit_id):
        paid_out.append(credit_id)
        if len(paid_out) == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(late, "_after_payout", killed)
    with pytest.raises(RuntimeError):
        late.late_compensation_run(campaign_id=flow.campaign.pk)
    assert Credit.objects.filter(kind="late_compensation").count() == 3  # every intent written first
    assert Credit.objects.filter(kind="late_compensation", paid_out=True).count() == 2
    assert balanced(flow.campaign)
    monkeypatch.setattr(late, "_after_payout", lambda credit_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        late_compensation_due_task()
        late_compensation_due_task()
        assert late.late_compensation_run(campaign_id=flow.campaign.pk)

    credits = Credit.objects.filter(kind="late_compensation").order_by("pledge_id")
    assert [(cr.pledge_id, cr.amount, cr.paid_out) for cr in credits] == [
        (p.pk, Decimal("67.50"), True) for p in (b, c, d)
    ]
    txns = LedgerTransaction.objects.filter(kind="compensation").order_by("pledge_id")
    assert [(t.pledge_id, t.reference, t.amount) for t in txns] == [
        (p.pk, f"pledge-{p.pk}-late", Decimal("67.50")) for p in (b, c, d)
    ]
    for t in txns:
        assert dict(t.legs.values_list("account", "amount")) == {
            Account.SHOP_PAYABLE: Decimal("67.50"),
            Account.PROVIDER: Decimal("-67.50"),
        }
        assert t.factory_id is None
    assert SimulatedTransaction.objects.filter(kind="refund", reference__endswith="-late").count() == 3
    for p in (b, c, d):
        assert PledgeNotice.objects.filter(pledge=p, kind="late_compensation").count() == 1
        (card,) = cards(p.fan, "late_compensation")
        assert card["amount"] == "67.50"
    assert cards(a.fan, "late_compensation") == [] and cards(flow.lapsed.fan, "late_compensation") == []
    summary = statement(campaign_id=flow.campaign.pk)
    assert summary["compensated"] == Decimal("202.50") and summary["balanced"]
    assert summary["payable_to_shop"] == Decimal("-202.50")  # taken from the shop's settlement
    flow.campaign.refresh_from_db()
    assert flow.campaign.late_checked_at is not None
    assert "preorders.tasks.late_compensation_due_task" in {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["schedule"] == 60.0
    }


def test_late_compensation_charged_to_a_factory_that_had_its_lead_time(flow, owner, api_for):
    factory_order_transition(order_id=flow.order.pk, status="sent")
    lead = flow.order.factory_product.lead_time_days
    # Sent a full lead time (and a day) before ship_by; ship_by then passes with nothing shipped.
    ship_by = timezone.now() - dt.timedelta(seconds=1)
    FactoryOrder.objects.filter(pk=flow.order.pk).update(sent_at=ship_by - dt.timedelta(days=lead + 1))
    past_ship_by(flow.campaign)
    assert late.late_compensation_run(campaign_id=flow.campaign.pk)
    txns = list(LedgerTransaction.objects.filter(kind="compensation"))
    assert len(txns) == 4
    factory_id = flow.order.factory_product.factory_id
    for t in txns:
        assert t.factory_id == factory_id
        assert dict(t.legs.values_list("account", "amount")) == {
            Account.FACTORY_PAYABLE: Decimal("67.50"),
            Account.PROVIDER: Decimal("-67.50"),
        }
    assert statement(factory_id=factory_id)["balanced"] and balanced(flow.campaign)


def test_late_compensation_waits_for_ship_by_and_skips_a_short_lead_time(flow, owner, api_for):
    assert not late.late_compensation_run(campaign_id=flow.campaign.pk)  # ship_by is ahead
    assert Credit.objects.filter(kind="late_compensation").count() == 0
    factory_order_transition(order_id=flow.order.pk, status="sent")  # sent now: no full lead time left
    past_ship_by(flow.campaign)
    assert late.late_compensation_run(campaign_id=flow.campaign.pk)
    accounts = set(
        LedgerTransaction.objects.filter(kind="compensation").values_list("legs__account", flat=True)
    )
    assert accounts == {Account.SHOP_PAYABLE, Account.PROVIDER}


def test_late_risk_is_for_the_shop_staff(flow, other_shop, api_for):
    url = f"/api/campaigns/{flow.campaign.pk}/late-risk/"
    assert api_for(other_shop.owner).get(url).status_code == 404
    assert api_for(flow.fans[0].user).get(url).status_code == 404
    assert api_for(ShopFactory().owner).get(url).status_code == 404
