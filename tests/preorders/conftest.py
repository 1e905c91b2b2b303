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
