"""The balance (尾款), lapses, cycle charges and dunning, the webhook and the ledger, through the real app:
HTTP endpoints, the simulated provider's own table, its signed notifications and the eager Celery tasks."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from core.db import is_postgresql
from payments.ledger import statement
from payments.models import LedgerLeg, LedgerTransaction, Payment, SimulatedTransaction, SimulatorRule
from payments.provider import payment_provider
from payments.services import payments_pending_sweep
from preorders.models import (
    Campaign,
    CreditKind,
    CycleDelivery,
    FactoryOrder,
    FactoryOrderSource,
    Pledge,
    SubscriptionCycle,
)
from preorders.services import balance as balance_service
from preorders.services import pledge_place
from preorders.services.subscriptions import subscription_cutoffs_run
from tests.factories import FanFactory, UserFactory
from tests.preorders.conftest import balance_deadline_pass, expire, make_campaign, pay_balances, shop_product

pytestmark = pytest.mark.django_db


def _closed(shop, factory_product, quantities=(3, 3, 4), **kw):
    """A succeeded campaign (target 10) with one pledge per fan, closed: balances due."""
    from preorders.services import campaign_close

    product, v_l, _v_m = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, per_fan_limit=None, cap=None, **kw)
    fans = []
    for q in quantities:
        fan = FanFactory(shop=shop)
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=q)
        fans.append(fan)
    expire(campaign)
    assert campaign_close(campaign_id=campaign.pk) == "succeeded"
    campaign.refresh_from_db()
    return campaign, fans


def _pay(api, pledge_id, key="k1", capture=None):
    return api.post(f"/api/pledges/{pledge_id}/pay-balance/", HTTP_IDEMPOTENCY_KEY=key)


def test_pay_balance_through_the_webhook_before_the_reply(
    require_services, transactional_db, shop, factory_product, api_for
):
    campaign, fans = _closed(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[0])
    # Ten units reached the 450 tier: every pledge pays the final price, less its deposit.
    assert pledge.status == "confirmed" and pledge.balance_due == Decimal("1350.00") - pledge.deposit_amount
    api = api_for(fans[0].user)
    # Real commits and eager Celery: the provider's signed notification is delivered when its own record
    # commits, inside the charge call, so it settles the payment before the "pending" reply is read.
    first = _pay(api, pledge.pk)
    assert first.status_code == 201, first.json()
    assert first.json()["status"] == "paid" and first.json()["pledge"] == pledge.pk
    pledge.refresh_from_db()
    assert pledge.status == "paid" and pledge.paid_at is not None
    # The fan is told once, with an order card (the batched notice task).
    from fans.chat.models import Message

    paid_cards = Message.objects.filter(
        conversation__fan=fans[0], kind="order_card", payload__card="balance_paid"
    )
    assert paid_cards.count() == 1
    from preorders.services.notices import pledges_tell_many

    assert pledges_tell_many(pledge_ids=[pledge.pk], what="balance_paid") == 0  # told already
    txn = LedgerTransaction.objects.get(reference=f"pledge-{pledge.pk}-balance-1")
    assert txn.kind == "balance" and txn.amount == pledge.balance_due and txn.campaign_id == campaign.pk
    assert sorted(txn.legs.values_list("account", "amount")) == [
        ("fans_held", -pledge.balance_due),
        ("provider", pledge.balance_due),
    ]
    # The same key answers the first result; a new key on a paid pledge is 409 already_paid.
    again = _pay(api, pledge.pk)
    assert again.status_code == 200 and again.json()["status"] == "paid"
    twice = _pay(api, pledge.pk, key="k2")
    assert twice.status_code == 409 and twice.json()["code"] == "already_paid"
    assert Payment.objects.filter(pledge_id=pledge.pk).count() == 1
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_webhook_after_the_reply_and_twice(shop, factory_product, api_for, client):
    campaign, fans = _closed(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[1])
    # No commit hooks run (the notification task is queued, not delivered): the reply is "pending".
    answer = _pay(api_for(fans[1].user), pledge.pk)
    assert answer.status_code == 201 and answer.json()["status"] == "pending"
    pledge.refresh_from_db()
    assert pledge.status == "confirmed"
    record = SimulatedTransaction.objects.get(reference=f"pledge-{pledge.pk}-balance-1")
    ((headers, body),) = payment_provider().notifications_build([record.pk])
    wsgi_headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    for _ in range(2):
        response = client.post(
            "/api/payments/webhook/", data=body, content_type="application/json", **wsgi_headers
        )
        assert response.status_code == 200 and response.json()["code"] == "SUCCESS"
    pledge.refresh_from_db()
    assert pledge.status == "paid"
    assert LedgerTransaction.objects.filter(pledge_id=pledge.pk, kind="balance").count() == 1
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_webhook_with_a_bad_signature_is_401_and_changes_nothing(shop, factory_product, api_for, client):
    campaign, fans = _closed(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[0])
    _pay(api_for(fans[0].user), pledge.pk)
    record = SimulatedTransaction.objects.get(reference=f"pledge-{pledge.pk}-balance-1")
    ((headers, body),) = payment_provider().notifications_build([record.pk])
    tampered = json.loads(body)
    tampered["amount"] = "1.00"
    before = LedgerTransaction.objects.count()
    for data, signature in (
        (json.dumps(tampered).encode(), headers["X-Sim-Signature"]),
        (body, "0" * 64),
        (body, ""),
    ):
        response = client.post(
            "/api/payments/webhook/",
            data=data,
            content_type="application/json",
            HTTP_X_SIM_SIGNATURE=signature,
            HTTP_X_SIM_TIMESTAMP=headers["X-Sim-Timestamp"],
        )
        assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    pledge.refresh_from_db()
    assert pledge.status == "confirmed" and LedgerTransaction.objects.count() == before
    assert Payment.objects.get(pledge_id=pledge.pk).status == "pending"


def test_provider_timeout_during_the_balance_charge(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    campaign, fans = _closed(shop, factory_product)
    user = fans[2].user
    pledge = Pledge.objects.get(fan=fans[2])
    SimulatorRule.objects.create(user=user, outcome="timeout", times=1)
    # The answer is lost: pending; money moved at the provider. No notification is delivered here.
    answer = _pay(api_for(user), pledge.pk)
    assert answer.status_code == 201 and answer.json()["status"] == "pending"
    assert SimulatedTransaction.objects.get(reference=f"pledge-{pledge.pk}-balance-1").status == "pending"
    # Paying again while it is in flight starts no second charge.
    again = _pay(api_for(user), pledge.pk, key="k-again")
    assert again.status_code == 200 and again.json()["status"] == "pending"
    assert SimulatedTransaction.objects.filter(kind="charge", reference__contains="balance").count() == 1
    # The sweep asks the provider: it settled (the payer confirmed): the pledge is paid, once.
    SimulatedTransaction.objects.filter(reference=f"pledge-{pledge.pk}-balance-1").update(status="succeeded")
    Payment.objects.filter(pledge_id=pledge.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert payments_pending_sweep() == 1
        assert payments_pending_sweep() == 0
    pledge.refresh_from_db()
    assert pledge.status == "paid"
    assert LedgerTransaction.objects.filter(pledge_id=pledge.pk, kind="balance").count() == 1
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_a_declined_balance_is_402_and_the_fan_may_retry(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    _campaign, fans = _closed(shop, factory_product)
    user = fans[0].user
    pledge = Pledge.objects.get(fan=fans[0])
    SimulatorRule.objects.create(user=user, outcome="decline", times=1)
    declined = _pay(api_for(user), pledge.pk)
    assert declined.status_code == 402 and declined.json()["code"] == "payment_failed"
    pledge.refresh_from_db()
    assert pledge.status == "confirmed" and not LedgerTransaction.objects.filter(kind="balance").exists()
    with django_capture_on_commit_callbacks(execute=True):
        retried = _pay(api_for(user), pledge.pk, key="k-retry")
    assert retried.status_code == 201  # pending in the reply; the notification settles it at the commit
    pledge.refresh_from_db()
    assert pledge.status == "paid"
    assert list(
        Payment.objects.filter(pledge_id=pledge.pk).order_by("pk").values_list("status", "attempt")
    ) == [
        ("failed", 1),
        ("succeeded", 2),
    ]


def test_pay_balance_bad_input(shop, factory_product, api_for):
    campaign, fans = _closed(shop, factory_product)
    mine, other = Pledge.objects.get(fan=fans[0]), Pledge.objects.get(fan=fans[1])
    api = api_for(fans[0].user)
    assert _pay(api, other.pk).status_code == 404  # someone else's pledge
    assert _pay(api_for(UserFactory()), mine.pk).status_code == 404
    Campaign.objects.filter(pk=campaign.pk).update(balance_deadline=timezone.now() - dt.timedelta(seconds=1))
    late = _pay(api, mine.pk)
    assert late.status_code == 409 and late.json()["code"] == "balance_deadline_passed"
    assert not Payment.objects.exists()


def test_lapse_forfeits_unpaid_deposits_and_builds_the_order_from_paid_units(
    shop, factory_product, django_capture_on_commit_callbacks
):
    campaign, fans = _closed(shop, factory_product, quantities=(3, 3, 4, 2))
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
    campaign, fans = _closed(shop, factory_product, quantities=(5, 5, 2), lapse_rule="refund")
    pay_balances(campaign, unpaid=1)
    balance_deadline_pass(campaign)
    lapsed = Pledge.objects.get(fan=fans[2])
    assert lapsed.status == "lapsed"
    refund = LedgerTransaction.objects.get(reference=f"pledge-{lapsed.pk}-lapse-refund")
    assert refund.amount == lapsed.deposit_amount
    assert SimulatedTransaction.objects.filter(kind="refund", reference=refund.reference).exists()
    answer = _pay(api_for(fans[2].user), lapsed.pk)
    assert answer.status_code == 409 and answer.json()["code"] in (
        "pledge_not_payable",
        "balance_deadline_passed",
    )
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_a_killed_lapse_sweep_is_finished_by_the_next_run_exactly_once(shop, factory_product, monkeypatch):
    campaign, _fans = _closed(shop, factory_product, quantities=(4, 4, 2, 1, 1))
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


def test_cycle_charges_with_declines_enter_dunning_then_skip_and_pause(
    owner, shop, product, django_capture_on_commit_callbacks
):
    from tests.preorders.test_subscriptions import pass_cutoff, subscription

    campaign = subscription(owner, product[0])
    cycle = SubscriptionCycle.objects.get(campaign=campaign)
    fans = [FanFactory(shop=shop) for _ in range(4)]
    subs = [
        pledge_place(user=f.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)[0]
        for f in fans
    ]
    SimulatorRule.objects.create(user=fans[0].user, outcome="decline", times=3)
    pass_cutoff(cycle)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_cutoffs_run()
    statuses = dict(CycleDelivery.objects.values_list("pledge_id", "status"))
    assert statuses[subs[0]["id"]] == "dunning" and [statuses[s["id"]] for s in subs[1:]] == ["charged"] * 3
    cycle.refresh_from_db()
    assert cycle.quantity == 3
    order = FactoryOrder.objects.get(cycle=cycle)
    assert sum(line.quantity for line in order.lines.all()) == 3  # paid boxes only
    dunned = CycleDelivery.objects.get(pledge_id=subs[0]["id"])
    assert dunned.attempts == 1 and dunned.next_attempt_at > timezone.now() + dt.timedelta(hours=23)
    from preorders.services.cycle_charging import dunning_run

    for attempt in (2, 3):
        CycleDelivery.objects.filter(pk=dunned.pk).update(next_attempt_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            assert dunning_run() == 1
        dunned.refresh_from_db()
        assert dunned.attempts == attempt
    assert dunned.status == "skipped"
    assert Pledge.objects.get(pk=subs[0]["id"]).status == "paused"
    from fans.chat.models import Message

    cards = Message.objects.filter(conversation__fan=fans[0], kind="order_card").values_list(
        "payload", flat=True
    )
    assert [c["card"] for c in cards] == ["cycle_failed", "cycle_failed", "cycle_skipped"]
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_pay_now_on_a_box_in_dunning(owner, shop, product, api_for, django_capture_on_commit_callbacks):
    from tests.preorders.test_subscriptions import pass_cutoff, subscription

    campaign = subscription(owner, product[0])
    cycle = SubscriptionCycle.objects.get(campaign=campaign)
    fan = FanFactory(shop=shop)
    sub = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)[0]
    SimulatorRule.objects.create(user=fan.user, outcome="decline", times=1)
    pass_cutoff(cycle)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_cutoffs_run()
    delivery = CycleDelivery.objects.get(pledge_id=sub["id"])
    assert delivery.status == "dunning"
    assert (
        api_for(FanFactory(shop=shop).user).post(f"/api/cycle-deliveries/{delivery.pk}/pay/").status_code
        == 404
    )
    with django_capture_on_commit_callbacks(execute=True):
        paid = api_for(fan.user).post(f"/api/cycle-deliveries/{delivery.pk}/pay/")
    assert paid.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "charged"
    again = api_for(fan.user).post(f"/api/cycle-deliveries/{delivery.pk}/pay/")
    assert again.status_code == 409 and again.json()["code"] == "already_paid"
    order = FactoryOrder.objects.get(cycle=cycle)
    assert sum(line.quantity for line in order.lines.all()) == 2  # the late box joined its order


def test_simulator_rules_endpoint_is_staff_only(api_for, fan_user):
    body = {"username": fan_user.username, "outcome": "decline", "times": 2}
    assert api_for(fan_user).post("/api/payment-simulator/rules/", body, format="json").status_code == 403
    admin = UserFactory(is_staff=True)
    created = api_for(admin).post("/api/payment-simulator/rules/", body, format="json")
    assert created.status_code == 201 and created.json()["times"] == 2
    assert SimulatorRule.objects.get().user_id == fan_user.pk
    bad = api_for(admin).post("/api/payment-simulator/rules/", {**body, "outcome": "maybe"}, format="json")
    assert bad.status_code == 400 and SimulatorRule.objects.count() == 1
    unknown = api_for(admin).post(
        "/api/payment-simulator/rules/", {**body, "username": "nobody"}, format="json"
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "user_unknown"
    with override_settings(FANSI_PAYMENT_PROVIDER="payments.wechatpay.WeChatPayProvider", FANSI_WECHATPAY={}):
        try:
            gone = api_for(admin).post("/api/payment-simulator/rules/", body, format="json")
        except Exception:  # noqa: BLE001 - an unconfigured WeChat provider may refuse to build: not simulated
            gone = None
        assert gone is None or gone.status_code == 404


def test_the_database_refuses_an_unbalanced_transaction(require_services):
    if not is_postgresql(connection):
        pytest.fail("needs PostgreSQL")
    txn = LedgerTransaction.objects.create(kind="deposit", reference="lonely", amount=Decimal("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerLeg.objects.create(transaction=txn, account="provider", amount=Decimal("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerLeg.objects.bulk_create(
            [
                LedgerLeg(transaction=txn, account="provider", amount=Decimal("1.00")),
                LedgerLeg(transaction=txn, account="fans_held", amount=Decimal("-0.99")),
            ]
        )
    LedgerLeg.objects.bulk_create(
        [
            LedgerLeg(transaction=txn, account="provider", amount=Decimal("1.00")),
            LedgerLeg(transaction=txn, account="fans_held", amount=Decimal("-1.00")),
        ]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerLeg.objects.filter(transaction=txn).update(amount=Decimal("2.00"))


def test_my_orders_lists_balance_due_paid_amounts_and_credits(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    campaign, fans = _closed(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[0])
    api = api_for(fans[0].user)
    (order,) = api.get("/api/me/orders/").json()
    assert (
        order["pledge"] == pledge.pk and order["campaign"] == campaign.pk and order["status"] == "confirmed"
    )
    assert order["balance_due"] == str(pledge.balance_due) and order["balance_deadline"]
    assert order["paid_amount"] == str(pledge.deposit_amount)
    assert order["shipments"] == [] and isinstance(order["credits"], list)
    with django_capture_on_commit_callbacks(execute=True):
        _pay(api, pledge.pk)
    (order,) = api.get("/api/me/orders/").json()
    assert order["status"] == "paid" and order["balance_due"] is None
    assert Decimal(order["paid_amount"]) == pledge.deposit_amount + pledge.balance_due
    # Only the caller's own orders.
    assert [o["pledge"] for o in api_for(fans[1].user).get("/api/me/orders/").json()] == [
        Pledge.objects.get(fan=fans[1]).pk
    ]


def test_a_lost_notification_is_redelivered_by_the_simulated_provider(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    from payments.tasks import sim_redeliver_task

    _campaign, fans = _closed(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[0])
    # The notification task is queued at the provider's commit but never runs (no commit hooks here).
    assert _pay(api_for(fans[0].user), pledge.pk).json()["status"] == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        sim_redeliver_task()  # too recent: nothing yet
    pledge.refresh_from_db()
    assert pledge.status == "confirmed"
    SimulatedTransaction.objects.filter(reference__endswith="-balance-1").update(
        created_at=timezone.now() - dt.timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        sim_redeliver_task()
        sim_redeliver_task()  # acknowledged: not sent again
    pledge.refresh_from_db()
    assert pledge.status == "paid"
    assert LedgerTransaction.objects.filter(pledge_id=pledge.pk, kind="balance").count() == 1
    assert SimulatedTransaction.objects.get(reference=f"pledge-{pledge.pk}-balance-1").notified_at is not None


def test_a_price_cut_within_30_days_refunds_every_paid_fan_once(
    shop, factory_product, django_capture_on_commit_callbacks
):
    from preorders.services.price_protection import price_protection_due

    campaign, fans = _closed(shop, factory_product, quantities=(3, 3, 4))
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

    campaign, _fans = _closed(shop, factory_product, quantities=(5, 5))
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

    campaign, fans = _closed(shop, factory_product, quantities=(3, 3, 4))
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
        paid = _pay(api_for(waiting[0].user), offered[0].pk)
    assert paid.status_code == 201
    topups_due()
    assert not FactoryOrderSource.objects.filter(campaign=campaign).exists()
    with django_capture_on_commit_callbacks(execute=True):
        _pay(api_for(waiting[1].user), offered[1].pk, key="k-w2")
    topups_due()
    order = FactoryOrderSource.objects.get(campaign=campaign).order
    assert sum(line.quantity for line in order.lines.all()) == 11  # 6 paid + 5 topped up
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_an_unpaid_top_up_lapses_and_the_owner_decides_again(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    from preorders.services.waitlist import topups_due

    campaign, _fans = _closed(shop, factory_product, quantities=(3, 3, 4))
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
