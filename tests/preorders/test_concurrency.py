"""Real threads against PostgreSQL: no overselling, and idempotency under concurrent duplicates."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, transaction
from psycopg.pq import TransactionStatus

from core.errors import DomainError
from fans.chat.models import Fan
from preorders.models import Campaign, IdempotencyKey, LedgerEntry, Pledge
from preorders.services import pledge_cancel, pledge_change, pledge_place
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign, shop_product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def _in_thread(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DomainError as exc:
        return exc
    finally:
        connection.close()


def test_concurrent_pledges_never_oversell(require_services, shop, factory_product, provider):
    product, v1, v2 = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, cap=25, target_quantity=10, per_fan_limit=3)
    fans = [FanFactory(shop=shop) for _ in range(24)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(
            pool.map(
                lambda i: _in_thread(
                    pledge_place,
                    user=fans[i].user,
                    campaign_id=campaign.pk,
                    variant_id=(v1 if i % 2 else v2).pk,
                    quantity=2 + i % 2,
                    idempotency_key=f"k{i}",
                ),
                range(24),
            )
        )
    ok = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert {e.code for e in refused} <= {"sold_out"}
    campaign.refresh_from_db()
    held = sum(p.quantity for p in Pledge.objects.filter(campaign=campaign, status="active"))
    assert campaign.committed_quantity == held <= 25
    assert held >= 23  # only a pledge that did not fit was refused
    assert sum(r[0]["quantity"] for r in ok) == held
    assert LedgerEntry.objects.filter(kind="charge").count() == len(ok)
    assert sum(Fan.objects.filter(shop=shop).values_list("pledge_count", flat=True)) == len(ok)
    assert provider.net_charged() == sum(Decimal(r[0]["deposit_amount"]) for r in ok)


def test_concurrent_same_fan_respects_per_fan_limit(require_services, shop, factory_product):
    product, v1, _ = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, cap=None, per_fan_limit=4)
    fan = FanFactory(shop=shop)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda i: _in_thread(
                    pledge_place, user=fan.user, campaign_id=campaign.pk, variant_id=v1.pk, quantity=1
                ),
                range(8),
            )
        )
    assert sum(1 for r in results if isinstance(r, tuple)) == 4
    assert {r.code for r in results if isinstance(r, DomainError)} == {"per_fan_limit"}
    assert Campaign.objects.get(pk=campaign.pk).committed_quantity == 4


def test_concurrent_duplicate_key_gets_409_then_first_result(
    require_services, shop, factory_product, provider, monkeypatch
):
    product, v1, _ = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product)
    fan = FanFactory(shop=shop)
    charging, release = threading.Event(), threading.Event()
    real_charge = provider.charge

    def slow_charge(*args, **kwargs):
        charging.set()
        release.wait(10)
        return real_charge(*args, **kwargs)

    monkeypatch.setattr(provider, "charge", slow_charge)
    args = {
        "user": fan.user,
        "campaign_id": campaign.pk,
        "variant_id": v1.pk,
        "quantity": 2,
        "idempotency_key": "dup",
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(_in_thread, pledge_place, **args)
        assert charging.wait(10)
        twin = pool.submit(_in_thread, pledge_place, **args).result(10)
        release.set()
        original = first.result(10)
    assert isinstance(twin, DomainError) and twin.status == 409 and twin.code == "idempotency_in_progress"
    body, created = original
    assert created
    retried = _in_thread(pledge_place, **args)
    assert retried == (body, False)
    assert Pledge.objects.count() == 1 and LedgerEntry.objects.count() == 1
    assert provider.net_charged() == Decimal(body["deposit_amount"])


def test_concurrent_duplicates_racing_on_insert(require_services, shop, factory_product, provider):
    product, v1, _ = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product)
    fan = FanFactory(shop=shop)
    args = {
        "user": fan.user,
        "campaign_id": campaign.pk,
        "variant_id": v1.pk,
        "quantity": 1,
        "idempotency_key": "race",
    }
    barrier = threading.Barrier(6)

    def go():
        barrier.wait(5)
        return _in_thread(pledge_place, **args)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = [f.result(20) for f in [pool.submit(go) for _ in range(6)]]
    created = [r for r in results if isinstance(r, tuple) and r[1]]
    assert len(created) == 1
    for r in results:
        assert (isinstance(r, tuple) and r[0] == created[0][0]) or (
            isinstance(r, DomainError) and r.status == 409
        )
    assert Pledge.objects.count() == 1 and LedgerEntry.objects.count() == 1


def test_many_threads_without_fan_limit_never_oversell(require_services, shop, factory_product, provider):
    """The one-statement reservation (no per-fan limit): the cap holds and nothing half-written stays."""
    product, v1, _ = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, cap=30, target_quantity=10, per_fan_limit=None)
    fans = [FanFactory(shop=shop) for _ in range(40)]
    barrier = threading.Barrier(16)

    def go(i):
        if i < 16:
            barrier.wait(10)
        return _in_thread(
            pledge_place,
            user=fans[i].user,
            campaign_id=campaign.pk,
            variant_id=v1.pk,
            quantity=1,
            idempotency_key=f"k{i}",
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(go, range(40)))
    ok = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(ok) == 30 and len(refused) == 10
    assert {(e.code, e.status) for e in refused} == {("sold_out", 409)}
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 30
    assert Pledge.objects.filter(campaign=campaign).count() == 30  # refusals stored no pending pledge
    assert IdempotencyKey.objects.filter(pledge__campaign=campaign).count() == 30
    assert IdempotencyKey.objects.filter(pledge__isnull=True).count() == 0
    assert LedgerEntry.objects.filter(kind="charge").count() == 30


def test_campaign_row_is_not_locked_while_the_provider_charges(
    require_services, shop, factory_product, provider, monkeypatch
):
    """The reservation is committed before the charge: another writer takes the campaign row at once."""
    product, v1, _ = shop_product(shop, factory_product)
    for limit in (None, 3):
        campaign = make_campaign(shop.owner, product, cap=20, per_fan_limit=limit)
        fan = FanFactory(shop=shop)
        seen = {}

        def probing_charge(request, real=provider.charge, campaign=campaign, fan=fan, seen=seen, **kwargs):
            def probe():
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '200ms'")
                    with transaction.atomic():
                        cursor.execute(
                            "SELECT committed_quantity FROM preorders_campaign WHERE id = %s FOR UPDATE",
                            [campaign.pk],
                        )
                        seen["committed"] = cursor.fetchone()[0]
                        cursor.execute("SELECT id FROM fans_fan WHERE id = %s FOR UPDATE", [fan.pk])
                        seen["fan_free"] = True

            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(_in_thread, probe).result(10)
            return real(request, **kwargs)

        monkeypatch.setattr(provider, "charge", probing_charge)
        body, created = pledge_place(
            user=fan.user, campaign_id=campaign.pk, variant_id=v1.pk, quantity=2, idempotency_key="p"
        )
        monkeypatch.undo()
        assert created and seen == {"committed": 2, "fan_free": True}, limit


def test_same_fan_placing_changing_and_cancelling_at_once_never_deadlocks(
    require_services, shop, factory_product, provider
):
    """Placement locks the fan row before the campaign row, as change and cancel do."""
    product, v1, _ = shop_product(shop, factory_product)
    for limit in (None, 50):
        campaign = make_campaign(shop.owner, product, cap=100, target_quantity=10, per_fan_limit=limit)
        fan = FanFactory(shop=shop)
        placed = [
            pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=v1.pk, quantity=1)[0]
            for _ in range(6)
        ]
        barrier = threading.Barrier(12)

        def go(i, placed=placed, campaign=campaign, fan=fan, barrier=barrier):
            barrier.wait(10)
            if i < 6:
                return _in_thread(
                    pledge_place, user=fan.user, campaign_id=campaign.pk, variant_id=v1.pk, quantity=1
                )
            if i < 9:
                return _in_thread(pledge_cancel, user=fan.user, pledge_id=placed[i - 6]["id"])
            return _in_thread(pledge_change, user=fan.user, pledge_id=placed[i - 6]["id"], quantity=3)

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(go, range(12)))  # a deadlock would raise OperationalError here
        assert all(isinstance(r, dict | tuple) for r in results), results
        campaign.refresh_from_db()
        held = Pledge.objects.filter(campaign=campaign, status__in=["active", "paused"])
        assert campaign.committed_quantity == sum(p.quantity for p in held) == 6 + 3 * 3


def test_reservation_takes_the_campaign_lock_in_a_statement_that_commits_itself(
    require_services, shop, factory_product
):
    """Every pledge queues on the campaign row, so it is locked by a message that also commits it.

    Outside a transaction block the server commits the message on its own: the lock is never held while
    the server waits for this process (a round trip to COMMIT, the GIL, the payment provider).
    """
    product, v1, _ = shop_product(shop, factory_product)
    for limit in (None, 4):
        campaign = make_campaign(shop.owner, product, cap=20, per_fan_limit=limit)
        fan = FanFactory(shop=shop)
        seen = []

        def watch(execute, sql, params, many, context, seen=seen):
            if "UPDATE preorders_campaign" in sql:
                seen.append((sql, connection.connection.info.transaction_status))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(watch):
            _body, created = pledge_place(
                user=fan.user, campaign_id=campaign.pk, variant_id=v1.pk, quantity=1, idempotency_key="w"
            )
        assert created and len(seen) == 1, seen
        sql, status = seen[0]
        assert status == TransactionStatus.IDLE
        assert "INSERT INTO preorders_pledge" in sql and "INSERT INTO preorders_idempotencykey" in sql
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
