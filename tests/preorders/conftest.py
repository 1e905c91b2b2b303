import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.provider import payment_provider
from preorders.models import Campaign, CampaignStatus
from preorders.services import campaign_create, campaign_launch
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.factories import FanFactory, ProductFactory, ShopFactory, VariantFactory


@pytest.fixture(autouse=True)
def provider():
    p = payment_provider()
    p.reset()
    yield p
    p.reset()


@pytest.fixture
def factory_product(db):
    factory = Factory.objects.create(name="羽绒工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="冬季羽绒服", moq=10, lead_time_days=30, unit_cost=Decimal("200.00")
    )
    FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=5)
    FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=5)
    return fp


def shop_product(shop, factory_product=None, price="500.00"):
    product = ProductFactory(shop=shop, price=Decimal(price), factory_product=factory_product)
    fvs = list(factory_product.variants.order_by("sku")) if factory_product else [None, None]
    # order_by("sku"): F-DOWN-L first, then F-DOWN-M
    v1 = VariantFactory(product=product, name="L", price=Decimal(price), factory_variant=fvs[0])
    v2 = VariantFactory(product=product, name="M", price=Decimal(price), factory_variant=fvs[1])
    return product, v1, v2


@pytest.fixture
def product(shop, factory_product):
    return shop_product(shop, factory_product)


def make_campaign(owner, product, *, launch=True, **overrides) -> Campaign:
    data = {
        "kind": "group",
        "product_id": product.pk,
        "title": "羽绒服团购",
        "target_quantity": 10,
        "cap": 20,
        "deadline": (timezone.now() + dt.timedelta(days=3)).isoformat(),
        "balance_deadline": (timezone.now() + dt.timedelta(days=5)).isoformat(),
        "deposit_percent": "10",
        "per_fan_limit": 5,
        "tiers": [{"min_quantity": 10, "unit_price": "450.00"}, {"min_quantity": 15, "unit_price": "350.00"}],
    }
    data.update(overrides)
    if data["kind"] != "group":
        data.pop("balance_deadline", None)
    elif "balance_deadline" not in overrides and isinstance(data["deadline"], str):
        data["balance_deadline"] = (
            dt.datetime.fromisoformat(data["deadline"]) + dt.timedelta(days=2)
        ).isoformat()
    campaign = campaign_create(user=owner, **data)
    if launch:
        campaign_launch(user=owner, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def expire(campaign: Campaign) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    campaign.refresh_from_db()


def fans_of(shop, n):
    return [FanFactory(shop=shop) for _ in range(n)]


__all__ = ["CampaignStatus", "ShopFactory", "expire", "fans_of", "make_campaign", "shop_product"]


def pay_balances(campaign: Campaign, *, unpaid: int = 0) -> None:
    """Every confirmed pledge pays its balance (but the last `unpaid`), through the service and provider."""
    from django.test import TestCase

    from preorders.models import Pledge
    from preorders.services.balance import balance_pay

    pledges = list(
        Pledge.objects.filter(campaign=campaign, status="confirmed").select_related("user").order_by("pk")
    )
    for pledge in pledges[: len(pledges) - unpaid]:
        # Inside a test transaction: run what the commit would (the provider's signed notification).
        with TestCase.captureOnCommitCallbacks(execute=True):
            balance_pay(user=pledge.user, pledge_id=pledge.pk, idempotency_key=f"pay-{pledge.pk}")


def balance_deadline_pass(campaign: Campaign) -> str:
    """Move the balance deadline into the past and run the lapse sweep and the factory-order step."""
    from django.test import TestCase

    from preorders.services.balance import balance_lapse_run
    from preorders.services.factory_orders import campaign_after_lapse

    Campaign.objects.filter(pk=campaign.pk).update(balance_deadline=timezone.now() - dt.timedelta(seconds=1))
    with TestCase.captureOnCommitCallbacks(execute=True):
        balance_lapse_run(campaign_id=campaign.pk)
    result = campaign_after_lapse(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return result


def settle(campaign: Campaign, *, unpaid: int = 0) -> str:
    """Close (deadline passed), pay balances, pass the balance deadline: the factory order exists."""
    from preorders.services import campaign_close

    expire(campaign)
    status = campaign_close(campaign_id=campaign.pk)
    if status == "succeeded":
        pay_balances(campaign, unpaid=unpaid)
        balance_deadline_pass(campaign)
    return status
