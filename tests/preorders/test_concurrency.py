"""Real threads against PostgreSQL: no overselling, and idempotency under concurrent duplicates."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from fans.models import Fan
from preorders.models import Campaign, LedgerEntry, Pledge
from preorders.services import pledge_place
from shops.errors import DomainError
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

    def slow_charge(**kwargs):
        charging.set()
        release.wait(10)
        return real_charge(**kwargs)

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
