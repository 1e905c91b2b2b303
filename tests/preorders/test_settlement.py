"""The settlement ledger through the real app: a worked example to the cent (deposits, a cancel refund,
balances, a lapse forfeit, tier credits, the release when the order is sent), `balanced` after every path,
the MOQ decision, and the database refusing an unbalanced posting. Access, pages and CSV exports:
test_settlement_pages.py; manage.py reconcile: test_settlement_reconcile.py."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from payments.ledger import Posting, Unbalanced, ledger_post_many
from payments.models import Account, LedgerLeg, LedgerTransaction, SimulatorOutcome
from preorders.dashboard import campaign_funnel
from preorders.models import (
    CycleDelivery,
    DeliveryStatus,
    FactoryOrder,
    LapseRule,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
)
from preorders.services import campaign_close, cycle_cut, factory_order_transition
from preorders.services.cycle_charging import delivery_pay_now
from preorders.services.release import (
    campaign_release_reference,
    cycle_box_release_reference,
    cycle_release_reference,
    factory_order_release,
    factory_order_releases_sweep,
)
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.factories import FanFactory
from tests.preorders.conftest import expire, make_campaign, shop_product
from tests.preorders.settlement_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.settlement_helpers import (
    D,
    lapse,
    pay_balance,
    pledge_http,
    send_http,
    settlement,
)

pytestmark = pytest.mark.django_db


def test_worked_example_statement_before_and_after_release(worked, api_for, shop, admin_user):
    campaign, pledges, steps = worked["campaign"], worked["pledges"], worked["steps"]
    assert steps["deposits"]["collected"] == "635.08" and steps["deposits"]["held"] == "635.08"
    assert steps["cancel"]["refunded"] == "45.03" and steps["cancel"]["held"] == "590.05"
    assert steps["close"]["price_credits"] == "497.50"
    assert steps["balances"]["collected"] == "4247.28"
    assert pledges["C"].status == PledgeStatus.LAPSED
    assert steps["lapse"] == {
        "campaign": campaign.pk,
        "collected": "4247.28",
        "refunded": "45.03",
        "forfeited": "150.00",
        "compensated": "0.00",
        "price_credits": "497.50",
        "held": "4052.25",
        "payable_to_factory": "0.00",
        "payable_to_shop": "0.00",
        "platform_fee": "0.00",
        "balanced": True,
        "currency": "CNY",
    }

    response = send_http(api_for, admin_user, worked["order"])
    assert response.status_code == 200 and response.json()["status"] == "sent"
    release = LedgerTransaction.objects.get(kind="release", campaign_id=campaign.pk)
    assert release.reference == campaign_release_reference(campaign.pk, worked["order"].pk)
    assert release.factory_id == worked["order"].factory_product.factory_id and release.shop_id == shop.pk
    legs = dict(release.legs.values_list("account", "amount"))
    # Net paid 4052.25 (A 1801.00 + B 1350.75 + D 900.50); 9 units × 123.45; fee 2% of 4052.25 = 81.045.
    assert legs == {
        Account.FANS_HELD: D("4052.25"),
        Account.FORFEITED: D("150.00"),
        Account.FACTORY_PAYABLE: D("-1111.05"),
        Account.PLATFORM_FEES: D("-81.05"),
        Account.SHOP_PAYABLE: D("-3010.15"),
    }
    assert sum(legs.values()) == 0 and release.amount == D("4202.25")
    after = settlement(api_for, shop.owner, campaign)
    assert after == {
        **steps["lapse"],
        "held": "0.00",
        "payable_to_factory": "1111.05",
        "payable_to_shop": "3010.15",
        "platform_fee": "81.05",
    }

    # Sent again, released again, swept: still exactly one release.
    assert send_http(api_for, admin_user, worked["order"]).status_code == 200
    assert factory_order_release(order_id=worked["order"].pk) == set()
    assert factory_order_releases_sweep() == 0
    assert LedgerTransaction.objects.filter(kind="release").count() == 1
    assert settlement(api_for, shop.owner, campaign) == after


def test_release_left_unposted_by_a_crash_is_posted_by_the_sweep(worked, monkeypatch, shop, api_for):
    from preorders.services import factory_orders

    def crash(*, order_id):
        raise RuntimeError("worker killed after the status commit")

    monkeypatch.setattr(factory_orders, "factory_order_release", crash)
    with pytest.raises(RuntimeError):
        factory_order_transition(order_id=worked["order"].pk, status="sent")
    assert FactoryOrder.objects.get(pk=worked["order"].pk).status == "sent"
    assert not LedgerTransaction.objects.filter(kind="release").exists()
    monkeypatch.undo()
    assert factory_order_releases_sweep() == 1
    assert settlement(api_for, shop.owner, worked["campaign"])["payable_to_factory"] == "1111.05"


def test_draft_and_cancelled_orders_release_nothing(worked):
    order = worked["order"]
    assert factory_order_release(order_id=order.pk) == set()
    factory_order_transition(order_id=order.pk, status="cancelled")
    assert factory_order_release(order_id=order.pk) == set()
    assert not LedgerTransaction.objects.filter(kind="release").exists()


def test_shop_selling_below_cost_gets_a_negative_payable_and_the_books_still_balance(
    shop, api_for, admin_user, django_capture_on_commit_callbacks, page_as
):
    factory = Factory.objects.create(name="贵工厂")
    fp = FactoryProduct.objects.create(factory=factory, name="贵外套", moq=1, unit_cost=D("80.00"))
    FactoryVariant.objects.create(factory_product=fp, name="均码", sku="F-COAT", moq=0)
    FactoryVariant.objects.create(factory_product=fp, name="大码", sku="F-COAT-L", moq=0)
    product, v1, _v2 = shop_product(shop, fp, price="60.00")
    campaign = make_campaign(
        shop.owner, product, target_quantity=2, cap=None, tiers=[], deposit_percent="100"
    )
    for _ in range(2):
        pledge_http(api_for, FanFactory(shop=shop).user, campaign, v1, 1)
    expire(campaign)
    campaign_close(campaign_id=campaign.pk)
    assert set(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"paid"}
    lapse(django_capture_on_commit_callbacks, campaign)
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    assert send_http(api_for, admin_user, order).status_code == 200
    legs = dict(LedgerLeg.objects.filter(transaction__kind="release").values_list("account", "amount"))
    # Paid 120.00; the factory is owed 160.00 and the platform 2.40: the shop owes 42.40.
    assert legs == {
        Account.FANS_HELD: D("120.00"),
        Account.FACTORY_PAYABLE: D("-160.00"),
        Account.PLATFORM_FEES: D("-2.40"),
        Account.SHOP_PAYABLE: D("42.40"),
    }
    body = settlement(api_for, shop.owner, campaign)
    assert body["payable_to_shop"] == "-42.40" and body["payable_to_factory"] == "160.00"
    page = page_as(shop.owner, f"/campaigns/{campaign.pk}/settlement/")
    assert page.status_code == 200 and "-42.40" in page.content.decode()


def test_lapse_with_refund_and_a_failed_campaign_balance(
    shop, jacket, api_for, django_capture_on_commit_callbacks
):
    product, v_l, v_m = shop_product(shop, jacket)
    refunding = make_campaign(
        shop.owner, product, target_quantity=5, cap=None, tiers=[], lapse_rule=LapseRule.REFUND
    )
    payer = pledge_http(api_for, FanFactory(shop=shop).user, refunding, v_l, 3)
    skipper = pledge_http(api_for, FanFactory(shop=shop).user, refunding, v_m, 2)
    expire(refunding)
    campaign_close(campaign_id=refunding.pk)
    pay_balance(django_capture_on_commit_callbacks, payer)
    lapse(django_capture_on_commit_callbacks, refunding)
    body = settlement(api_for, shop.owner, refunding)
    # 3 × 500 paid in full; the 2-unit pledge's deposit of 100.00 goes back.
    assert body["collected"] == "1600.00" and body["refunded"] == "100.00"
    assert body["forfeited"] == "0.00" and body["held"] == "1500.00"
    skipper.refresh_from_db()
    assert skipper.status == PledgeStatus.LAPSED

    failing = make_campaign(shop.owner, product, target_quantity=50, cap=None, tiers=[])
    pledge_http(api_for, FanFactory(shop=shop).user, failing, v_l, 2)
    expire(failing)
    assert campaign_close(campaign_id=failing.pk) == "failed"
    body = settlement(api_for, shop.owner, failing)
    assert body["collected"] == body["refunded"] == "100.00" and body["held"] == "0.00"


def test_subscription_cycle_release_and_a_late_box_released_on_its_own(
    shop, factory_product, api_for, admin_user, provider, django_capture_on_commit_callbacks, page_as
):
    product, v_l, _v_m = shop_product(shop, factory_product)
    campaign = make_campaign(
        shop.owner,
        product,
        kind="subscription",
        cadence="weekly",
        cycles=2,
        cutoff_hours=24,
        deposit_percent="0",
        tiers=[],
        target_quantity=10,
        cap=None,
        per_fan_limit=None,
    )
    subscribers = [FanFactory(shop=shop, display_name=n) for n in ("阿花", "阿草", "阿木")]
    pledges = [
        pledge_http(api_for, f.user, campaign, v_l, q) for f, q in zip(subscribers, (1, 2, 1), strict=True)
    ]
    provider.rule_add(user_id=subscribers[2].user.pk, outcome=SimulatorOutcome.DECLINE, times=1)
    cycle = SubscriptionCycle.objects.get(campaign=campaign, number=1)
    SubscriptionCycle.objects.filter(pk=cycle.pk).update(cutoff_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        cycle_cut(cycle_id=cycle.pk)
    dunning = CycleDelivery.objects.get(pledge=pledges[2])
    assert dunning.status == DeliveryStatus.DUNNING and dunning.attempts == 1

    # The owner's page lists the box being retried, with the fan's name, box number and amount.
    page = page_as(shop.owner, f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="dunning-table"' in page and "阿木" in page and "¥500.00" in page

    order = FactoryOrder.objects.get(cycle=cycle)
    assert send_http(api_for, admin_user, order).status_code == 200
    release = LedgerTransaction.objects.get(reference=cycle_release_reference(cycle.pk))
    # 3 charged units × 500.00; factory 3 × 200.00; fee 2% of 1500.00.
    assert dict(release.legs.values_list("account", "amount")) == {
        Account.FANS_HELD: D("1500.00"),
        Account.FACTORY_PAYABLE: D("-600.00"),
        Account.PLATFORM_FEES: D("-30.00"),
        Account.SHOP_PAYABLE: D("-870.00"),
    }
    # The fan pays now: the box joins the sent order and is released alone, once.
    with django_capture_on_commit_callbacks(execute=True):
        delivery_pay_now(user=subscribers[2].user, delivery_id=dunning.pk)
    dunning.refresh_from_db()
    assert dunning.status == DeliveryStatus.CHARGED and dunning.added_to_order
    late = LedgerTransaction.objects.get(reference=cycle_box_release_reference(cycle.pk, dunning.pk))
    assert dict(late.legs.values_list("account", "amount"))[Account.FACTORY_PAYABLE] == D("-200.00")
    assert factory_order_release(order_id=order.pk) == set()
    body = settlement(api_for, shop.owner, campaign)
    assert body["collected"] == "2000.00" and body["held"] == "0.00"
    assert body["payable_to_factory"] == "800.00" and body["platform_fee"] == "40.00"
    assert body["payable_to_shop"] == "1160.00"
    funnel = {step["key"]: step["value"] for step in campaign_funnel(campaign)}
    assert funnel["pledged"] == 4 and funnel["paid"] == 4 and funnel["lapsed"] == 0


def test_database_refuses_an_unbalanced_transaction(db):
    txn, leg = LedgerTransaction._meta.db_table, LedgerLeg._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {txn} (kind, reference, amount, currency, provider_id, memo, created_at) "
            f"VALUES ('deposit', 'hand-made', 10, 'CNY', '', '', now()) RETURNING id"
        )
        (txn_id,) = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO {leg} (transaction_id, account, amount) VALUES (%s, 'provider', 10)", [txn_id]
        )
    assert not LedgerTransaction.objects.filter(reference="hand-made").exists()
    # The service refuses it before the database sees it.
    with pytest.raises(Unbalanced):
        ledger_post_many([Posting("deposit", "hand-made", D(10), [(Account.PROVIDER, D(10))])])
    with pytest.raises(Unbalanced):
        ledger_post_many(
            [Posting("deposit", "hand-made", D(10), [(Account.PROVIDER, D(10)), (Account.FANS_HELD, D(-9))])]
        )


def moq_short_campaign(shop, factory_product, api_for, django_capture_on_commit_callbacks):
    """Target 10 reached (L 5, M 5), only L paid: 5 paid units against the factory's MOQ of 10."""
    product, v_l, v_m = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, cap=None, per_fan_limit=None, tiers=[])
    payer = pledge_http(api_for, FanFactory(shop=shop).user, campaign, v_l, 5)
    pledge_http(api_for, FanFactory(shop=shop).user, campaign, v_m, 5)
    expire(campaign)
    campaign_close(campaign_id=campaign.pk)
    pay_balance(django_capture_on_commit_callbacks, payer)
    lapse(django_capture_on_commit_callbacks, campaign)
    campaign.refresh_from_db()
    # The unpaid M line lapsed under its own MOQ of 5, and the product under its MOQ of 10.
    assert (
        campaign.moq_shortfall
        == {
            "*": {"paid": 5, "moq": 10},
            "F-DOWN-M": {"paid": 0, "moq": 5},
        }
        and not campaign.moq_decision
    )
    return campaign


def test_moq_decision_api_ship_anyway(
    shop, factory_product, api_for, staff, other_shop, django_capture_on_commit_callbacks, page_as
):
    campaign = moq_short_campaign(shop, factory_product, api_for, django_capture_on_commit_callbacks)
    url = f"/api/campaigns/{campaign.pk}/moq-decision/"
    html = page_as(shop.owner, f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="moq-ship-anyway"' in html and 'id="moq-cancel"' in html
    assert api_for(other_shop.owner).post(url, {"decision": "ship_anyway"}, format="json").status_code == 404
    assert api_for(staff).post(url, {"decision": "ship_anyway"}, format="json").status_code == 403
    assert api_for(shop.owner).post(url, {}, format="json").status_code == 400
    bad = api_for(shop.owner).post(url, {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "decision_invalid"
    response = api_for(shop.owner).post(url, {"decision": "ship_anyway"}, format="json")
    assert response.status_code == 200 and response.json()["moq_decision"] == "ship_anyway"
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    assert order.lines.get().quantity == 5
    again = api_for(shop.owner).post(url, {"decision": "cancel"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "no_moq_decision"
    assert 'id="moq-ship-anyway"' not in page_as(shop.owner, f"/campaigns/{campaign.pk}/").content.decode()
    settlement(api_for, shop.owner, campaign)


def test_moq_decision_api_cancel_refunds_everyone_paid(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    campaign = moq_short_campaign(shop, factory_product, api_for, django_capture_on_commit_callbacks)
    response = api_for(shop.owner).post(
        f"/api/campaigns/{campaign.pk}/moq-decision/", {"decision": "cancel"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "failed"
    assert not FactoryOrder.objects.filter(sources__campaign=campaign).exists()
    body = settlement(api_for, shop.owner, campaign)
    # The payer's 2500.00 back in full; the lapsed pledge's deposit stays forfeited.
    assert body["refunded"] == "2500.00" and body["forfeited"] == "250.00" and body["held"] == "0.00"
