"""The balance (尾款), the webhook and the ledger through the real app: HTTP endpoints, the simulated
provider's own table, its signed notifications and the eager Celery tasks. Lapses, credits and top-ups:
test_money_loop_lapse.py; cycle charges and dunning: test_money_loop_cycles.py."""

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
    Pledge,
)
from tests.factories import UserFactory
from tests.preorders.money_loop_helpers import closed_campaign, pay_balance_http

pytestmark = pytest.mark.django_db


def test_pay_balance_through_the_webhook_before_the_reply(
    require_services, transactional_db, shop, factory_product, api_for
):
    campaign, fans = closed_campaign(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[0])
    # Ten units reached the 450 tier: every pledge pays the final price, less its deposit.
    assert pledge.status == "confirmed" and pledge.balance_due == Decimal("1350.00") - pledge.deposit_amount
    api = api_for(fans[0].user)
    # Real commits and eager Celery: the provider's signed notification is delivered when its own record
    # commits, inside the charge call, so it settles the payment before the "pending" reply is read.
    first = pay_balance_http(api, pledge.pk)
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
    again = pay_balance_http(api, pledge.pk)
    assert again.status_code == 200 and again.json()["status"] == "paid"
    twice = pay_balance_http(api, pledge.pk, key="k2")
    assert twice.status_code == 409 and twice.json()["code"] == "already_paid"
    assert Payment.objects.filter(pledge_id=pledge.pk).count() == 1
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_webhook_after_the_reply_and_twice(shop, factory_product, api_for, client):
    campaign, fans = closed_campaign(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[1])
    # No commit hooks run (the notification task is queued, not delivered): the reply is "pending".
    answer = pay_balance_http(api_for(fans[1].user), pledge.pk)
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
    campaign, fans = closed_campaign(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[0])
    pay_balance_http(api_for(fans[0].user), pledge.pk)
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
    campaign, fans = closed_campaign(shop, factory_product)
    user = fans[2].user
    pledge = Pledge.objects.get(fan=fans[2])
    SimulatorRule.objects.create(user=user, outcome="timeout", times=1)
    # The answer is lost: pending; money moved at the provider. No notification is delivered here.
    answer = pay_balance_http(api_for(user), pledge.pk)
    assert answer.status_code == 201 and answer.json()["status"] == "pending"
    assert SimulatedTransaction.objects.get(reference=f"pledge-{pledge.pk}-balance-1").status == "pending"
    # Paying again while it is in flight starts no second charge.
    again = pay_balance_http(api_for(user), pledge.pk, key="k-again")
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
    _campaign, fans = closed_campaign(shop, factory_product)
    user = fans[0].user
    pledge = Pledge.objects.get(fan=fans[0])
    SimulatorRule.objects.create(user=user, outcome="decline", times=1)
    declined = pay_balance_http(api_for(user), pledge.pk)
    assert declined.status_code == 402 and declined.json()["code"] == "payment_failed"
    pledge.refresh_from_db()
    assert pledge.status == "confirmed" and not LedgerTransaction.objects.filter(kind="balance").exists()
    with django_capture_on_commit_callbacks(execute=True):
        retried = pay_balance_http(api_for(user), pledge.pk, key="k-retry")
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
    campaign, fans = closed_campaign(shop, factory_product)
    mine, other = Pledge.objects.get(fan=fans[0]), Pledge.objects.get(fan=fans[1])
    api = api_for(fans[0].user)
    assert pay_balance_http(api, other.pk).status_code == 404  # someone else's pledge
    assert pay_balance_http(api_for(UserFactory()), mine.pk).status_code == 404
    Campaign.objects.filter(pk=campaign.pk).update(balance_deadline=timezone.now() - dt.timedelta(seconds=1))
    late = pay_balance_http(api, mine.pk)
    assert late.status_code == 409 and late.json()["code"] == "balance_deadline_passed"
    assert not Payment.objects.exists()


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
    campaign, fans = closed_campaign(shop, factory_product)
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
        pay_balance_http(api, pledge.pk)
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

    _campaign, fans = closed_campaign(shop, factory_product)
    pledge = Pledge.objects.get(fan=fans[0])
    # The notification task is queued at the provider's commit but never runs (no commit hooks here).
    assert pay_balance_http(api_for(fans[0].user), pledge.pk).json()["status"] == "pending"
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
