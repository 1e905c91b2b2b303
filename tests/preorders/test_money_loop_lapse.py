"""The money terms after a campaign closes, through the real app: the campaign's terms, lapses (forfeit or
refund, a killed sweep finished once), tier credits, price protection and the waitlist's MOQ top-up."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.ledger import statement
from payments.models import LedgerTransaction, SimulatedTransaction
from preorders.models import (
    Campaign,
    CreditKind,
    FactoryOrderSource,
    Pledge,
)
from preorders.services import balance as balance_service
from preorders.services import pledge_place
from tests.factories import FanFactory
from tests.preorders.conftest import balance_deadline_pass, expire, make_campaign, pay_balances, shop_product
from tests.preorders.money_loop_helpers import closed_campaign, pay_balance_http

pytestmark = pytest.mark.django_db


def test_lapse_forfeits_unpaid_deposits_and_builds_the_order_from_paid_units(
    shop, factory_product, django_capture_on_commit_callbacks
):
    campaign, fans = closed_campaign(shop, factory_product, quantities=(3, 3, 4, 2))
    assert campaign.committed_quantity == 12
    pay_balances(campaign, unpaid=1)  # the last fan (2 units) never pays
    unpaid = Pledge.objects.get(fan=fans[3])
    assert balance_deadline_pass(campaign) == "ordered"
    unpaid.refresh_from_db()
    campaign.refresh_from_db()
    assert unpaid.status == "lapsed" and campaign.committed_quantity == 10 and campaign.lapsed_at
    forfeit = LedgerTransaction.objects.get(reference=f"pledge-{unpaid.pk}-forfeit")
    assert forfeit.kind == "forfeit" and forfeit.amount == unpaid.deposit_amount
    source = FactoryOrderSource.objects.get(campaign=campaign)
    assert sum(line.quantity for line in source.order.lines.all()) == 10  # paid units only
    books = statement(campaign_id=campaign.pk)
    assert books["forfeited"] == unpaid.deposit_amount and books["balanced"]
    assert not Pledge.objects.filter(campaign=campaign, status="confirmed").exists()
    # The fan was told, with an order card.
    from fans.chat.models import Message

    cards = Message.objects.filter(conversation__fan=fans[3], kind="order_card").values_list(
        "payload", flat=True
    )
    assert [c["card"] for c in cards] == ["lapsed_forfeit"]
    # Paying after the lapse is refused: the pledge is not payable any more.
    assert balance_service.balance_lapse_run(campaign_id=campaign.pk) is True  # rerun: nothing new
    assert LedgerTransaction.objects.filter(kind="forfeit").count() == 1


def test_lapse_by_refund_rule_refunds_the_deposit(shop, factory_product, api_for):
    campaign, fans = closed_campaign(shop, factory_product, quantities=(5, 5, 2), lapse_rule="refund")
    pay_balances(campaign, unpaid=1)
    balance_deadline_pass(campaign)
    lapsed = Pledge.objects.get(fan=fans[2])
    assert lapsed.status == "lapsed"
    refund = LedgerTransaction.objects.get(reference=f"pledge-{lapsed.pk}-lapse-refund")
    assert refund.amount == lapsed.deposit_amount
    assert SimulatedTransaction.objects.filter(kind="refund", reference=refund.reference).exists()
    answer = pay_balance_http(api_for(fans[2].user), lapsed.pk)
    assert answer.status_code == 409 and answer.json()["code"] in (
        "pledge_not_payable",
        "balance_deadline_passed",
    )
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_a_killed_lapse_sweep_is_finished_by_the_next_run_exactly_once(shop, factory_product, monkeypatch):
    campaign, _fans = closed_campaign(shop, factory_product, quantities=(4, 4, 2, 1, 1))
    pay_balances(campaign, unpaid=3)
    Campaign.objects.filter(pk=campaign.pk).update(balance_deadline=timezone.now() - dt.timedelta(seconds=1))

    class Killed(Exception):
        pass

    def die(campaign_id, done):
        raise Killed

    monkeypatch.setattr(balance_service, "_after_chunk", die)
    with pytest.raises(Killed):
        balance_service.balance_lapse_run(campaign_id=campaign.pk, chunk_size=1)
    assert Pledge.objects.filter(campaign=campaign, status="lapsed").count() == 1
    monkeypatch.undo()
    assert balance_service.balance_lapse_run(campaign_id=campaign.pk, chunk_size=1) is True
    campaign.refresh_from_db()
    assert Pledge.objects.filter(campaign=campaign, status="lapsed").count() == 3
    assert LedgerTransaction.objects.filter(campaign_id=campaign.pk, kind="forfeit").count() == 3
    assert campaign.committed_quantity == 8
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_deposit_paid_at_a_higher_tier_is_credited(shop, factory_product):
    """Every pledge pays the final tier price; one placed at 500 gets a price-protection credit."""
    product, v_l, _ = shop_product(shop, factory_product)
    campaign = make_campaign(
        shop.owner, product, per_fan_limit=None, cap=None, tiers=[{"min_quantity": 5, "unit_price": "400.00"}]
    )
    early = FanFactory(shop=shop)
    pledge_place(user=early.user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=2)  # at 500
    late = FanFactory(shop=shop)
    pledge_place(user=late.user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=8)  # at 500 too
    from preorders.services import campaign_close

    expire(campaign)
    campaign_close(campaign_id=campaign.pk)
    first = Pledge.objects.get(fan=early)
    assert first.final_unit_price == Decimal("400.00")
    assert first.balance_due == Decimal("800.00") - first.deposit_amount
    credit = first.credits.get(kind=CreditKind.PRICE_PROTECTION)
    assert credit.amount == Decimal("200.00")  # 2 x (500 - 400)
    txn = LedgerTransaction.objects.get(reference=credit.reference)
    assert txn.kind == "price_protection" and sum(txn.legs.values_list("amount", flat=True)) == 0
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_campaign_money_terms_are_validated(api_for, owner, product):
    from tests.preorders.test_api import body

    api = api_for(owner)
    deadline = timezone.now() + dt.timedelta(days=2)
    cases = [
        ({"balance_deadline": None}, "balance_deadline_required"),
        (
            {"balance_deadline": (deadline - dt.timedelta(hours=1)).isoformat()},
            "balance_deadline_before_deadline",
        ),
        (
            {
                "balance_deadline": (deadline + dt.timedelta(days=2)).isoformat(),
                "ship_by": (deadline + dt.timedelta(days=1)).isoformat(),
            },
            "ship_by_before_balance_deadline",
        ),
        ({"late_compensation_percent": -1}, "late_compensation_percent_invalid"),
        ({"late_compensation_percent": 101}, "late_compensation_percent_invalid"),
        ({"lapse_rule": "keep"}, "lapse_rule_invalid"),
        ({"balance_deadline": "tomorrow"}, "balance_deadline_invalid"),
    ]
    for change, code in cases:
        data = body(product[0], deadline=deadline.isoformat(), **change)
        response = api.post("/api/campaigns/", data, format="json")
        assert response.status_code == 400 and response.json()["code"] == code, (change, response.json())
    assert not Campaign.objects.exists()
    ok = api.post(
        "/api/campaigns/",
        body(product[0], deadline=deadline.isoformat(), lapse_rule="refund", late_compensation_percent="7.5"),
        format="json",
    )
    assert ok.status_code == 201
    data = ok.json()
    assert data["lapse_rule"] == "refund" and data["late_compensation_percent"] == "7.50"
    assert data["balance_deadline"] and data["ship_by"]
    # A 100% deposit needs no balance deadline.
    full = api.post(
        "/api/campaigns/",
        body(product[0], deadline=deadline.isoformat(), deposit_percent=100, balance_deadline=None),
        format="json",
    )
    assert full.status_code == 201, full.json()


def test_a_price_cut_within_30_days_refunds_every_paid_fan_once(
    shop, factory_product, django_capture_on_commit_callbacks
):
    from preorders.services.price_protection import price_protection_due

    campaign, fans = closed_campaign(shop, factory_product, quantities=(3, 3, 4))
    pay_balances(campaign, unpaid=1)
    assert price_protection_due() == [campaign.pk]  # nothing cheaper yet: nothing paid
    assert not LedgerTransaction.objects.filter(
        kind="price_protection", reference__endswith="price-cut"
    ).exists()
    # The owner cuts the product's price (e.g. in the admin) from 500 to 420; the final price was 450.
    from shops.models import Product, Variant

    Product.objects.filter(pk=campaign.product_id).update(price=Decimal("420.00"))
    Variant.objects.filter(product_id=campaign.product_id).update(price=Decimal("420.00"))
    with django_capture_on_commit_callbacks(execute=True):
        price_protection_due()
        price_protection_due()  # once
    paid = list(Pledge.objects.filter(campaign=campaign, status="paid").order_by("pk"))
    assert len(paid) == 2
    for pledge in paid:
        txn = LedgerTransaction.objects.get(reference=f"pledge-{pledge.pk}-price-cut")
        assert txn.amount == Decimal(pledge.quantity) * Decimal("30.00") and txn.kind == "price_protection"
        assert SimulatedTransaction.objects.filter(kind="refund", reference=txn.reference).count() == 1
    unpaid = Pledge.objects.get(campaign=campaign, status="confirmed")
    assert not unpaid.credits.filter(reference__endswith="price-cut").exists()
    assert statement(campaign_id=campaign.pk)["balanced"]
    # After 30 days a cut is no longer this campaign's business.
    Campaign.objects.filter(pk=campaign.pk).update(closed_at=timezone.now() - dt.timedelta(days=31))
    assert price_protection_due() == []


def test_another_cheaper_campaign_for_the_same_product_triggers_price_protection(
    shop, factory_product, django_capture_on_commit_callbacks
):
    from preorders.services import campaign_launch
    from preorders.services.price_protection import price_protection_run

    campaign, _fans = closed_campaign(shop, factory_product, quantities=(5, 5))
    pay_balances(campaign)
    cheaper = make_campaign(shop.owner, campaign.product, launch=False, tiers=[], title="再来一团")
    Campaign.objects.filter(pk=cheaper.pk).update(base_unit_price=Decimal("400.00"))
    campaign_launch(user=shop.owner, campaign_id=cheaper.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert price_protection_run(campaign_id=campaign.pk) == 2
    credits = LedgerTransaction.objects.filter(campaign_id=campaign.pk, reference__endswith="price-cut")
    assert sorted(credits.values_list("amount", flat=True)) == [Decimal("250.00"), Decimal("250.00")]


def test_waitlist_tops_up_a_moq_shortfall(shop, factory_product, api_for, django_capture_on_commit_callbacks):
    """Lapses leave the product under its MOQ of 10; two waitlisted fans cover it and the order is built."""
    from preorders.models import WaitlistEntry
    from preorders.services.waitlist import topups_due

    campaign, fans = closed_campaign(shop, factory_product, quantities=(3, 3, 4))
    product = campaign.product
    v_l = product.variants.get(name="L")
    # The campaign closed but has not ordered yet: fans may queue for a place.
    waiting = [FanFactory(shop=shop) for _ in range(3)]
    for n, fan in enumerate(waiting):
        joined = api_for(fan.user).post(
            f"/api/campaigns/{campaign.pk}/waitlist/",
            {"variant": v_l.pk, "quantity": 2 + n % 2},
            format="json",
        )
        assert joined.status_code == 201, joined.json()
    again = api_for(waiting[0].user).post(
        f"/api/campaigns/{campaign.pk}/waitlist/", {"variant": v_l.pk}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "already_waitlisted"
    assert api_for(fans[0].user).get(f"/api/campaigns/{campaign.pk}/waitlist/").status_code == 403
    summary = api_for(shop.owner).get(f"/api/campaigns/{campaign.pk}/waitlist/").json()
    assert summary["waiting_units"] == 7
    pay_balances(campaign, unpaid=1)  # the 4-unit pledge lapses: 6 paid < MOQ 10
    assert balance_deadline_pass(campaign) == "moq_shortfall"
    url = f"/api/campaigns/{campaign.pk}/moq-decision/"
    topped = api_for(shop.owner).post(url, {"decision": "top_up"}, format="json")
    assert topped.status_code == 200 and topped.json()["moq_decision"] == "top_up"
    offers = list(WaitlistEntry.objects.filter(campaign=campaign, status="offered").order_by("pk"))
    assert [e.user_id for e in offers] == [waiting[0].user_id, waiting[1].user_id]  # 2 + 3 units cover 4
    offered = [Pledge.objects.get(pk=e.pledge_id) for e in offers]
    assert all(p.status == "confirmed" and p.deposit_amount == 0 for p in offered)
    assert offered[0].balance_due == Decimal("900.00")  # 2 x the final 450
    # The first pays at once; the beat waits for the second until the top-up deadline.
    with django_capture_on_commit_callbacks(execute=True):
        paid = pay_balance_http(api_for(waiting[0].user), offered[0].pk)
    assert paid.status_code == 201
    topups_due()
    assert not FactoryOrderSource.objects.filter(campaign=campaign).exists()
    with django_capture_on_commit_callbacks(execute=True):
        pay_balance_http(api_for(waiting[1].user), offered[1].pk, key="k-w2")
    topups_due()
    order = FactoryOrderSource.objects.get(campaign=campaign).order
    assert sum(line.quantity for line in order.lines.all()) == 11  # 6 paid + 5 topped up
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_an_unpaid_top_up_lapses_and_the_owner_decides_again(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    from preorders.services.waitlist import topups_due

    campaign, _fans = closed_campaign(shop, factory_product, quantities=(3, 3, 4))
    v_l = campaign.product.variants.get(name="L")
    late = FanFactory(shop=shop)
    api_for(late.user).post(
        f"/api/campaigns/{campaign.pk}/waitlist/", {"variant": v_l.pk, "quantity": 4}, format="json"
    )
    pay_balances(campaign, unpaid=1)
    balance_deadline_pass(campaign)
    url = f"/api/campaigns/{campaign.pk}/moq-decision/"
    assert api_for(shop.owner).post(url, {"decision": "top_up"}, format="json").status_code == 200
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 10
    Campaign.objects.filter(pk=campaign.pk).update(topup_deadline=timezone.now() - dt.timedelta(seconds=1))
    topups_due()
    campaign.refresh_from_db()
    assert campaign.moq_decision == "" and campaign.moq_shortfall["*"]["paid"] == 6
    assert campaign.committed_quantity == 6
    # Nobody else waits: topping up again is refused with a code, nothing changes.
    again = api_for(shop.owner).post(url, {"decision": "top_up"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "waitlist_empty"
    assert api_for(shop.owner).post(url, {"decision": "ship_anyway"}, format="json").status_code == 200
    assert FactoryOrderSource.objects.filter(campaign=campaign).exists()
