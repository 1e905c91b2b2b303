"""Demo C2M data: a factory with a down jacket and a fruit box, linked to both demo shops' products, a live
group pre-order in shop1 with a few real pledges, a subscription in shop1 and a group pre-order in shop2.

Idempotent: factories, factory products and variants are found by name/SKU, campaigns by (shop, title),
pledges by the fan's Idempotency-Key, so a second run stores nothing new. Run by demo.data.seed after the
shops, catalogues and fans exist.
"""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from preorders.models import Campaign, CampaignKind
from preorders.services import campaign_create, campaign_launch, pledge_place
from shops.models import Factory, FactoryProduct, FactoryVariant, Product, Shop


def _factory_product(
    factory: Factory, name: str, *, moq: int, lead: int, cost: str, variants: list[tuple[str, str, int]]
) -> FactoryProduct:
    fp, _ = FactoryProduct.objects.get_or_create(
        factory=factory, name=name, defaults={"moq": moq, "lead_time_days": lead, "unit_cost": Decimal(cost)}
    )
    for sku, vname, vmoq in variants:
        FactoryVariant.objects.get_or_create(
            sku=sku, defaults={"factory_product": fp, "name": vname, "moq": vmoq}
        )
    return fp


def _link(product: Product, fp: FactoryProduct) -> None:
    """Link the shop's product and its variants (in order) to the factory product and its variants."""
    Product.objects.filter(pk=product.pk, factory_product__isnull=True).update(factory_product=fp)
    fvs = list(fp.variants.order_by("pk"))
    for variant, fv in zip(product.variants.order_by("pk"), fvs, strict=False):
        if variant.factory_variant_id is None:
            variant.factory_variant = fv
            variant.save(update_fields=["factory_variant"])


def _campaign(owner, product: Product, title: str, **fields) -> Campaign:
    existing = Campaign.objects.filter(shop=product.shop, title=title).first()
    if existing is not None:
        return existing
    campaign = campaign_create(user=owner, product_id=product.pk, title=title, **fields)
    campaign_launch(user=owner, campaign_id=campaign.pk)
    return campaign


def demo_campaigns_ensure() -> dict[str, int]:
    user_model = get_user_model()
    shop1 = Shop.objects.filter(slug="shop1").select_related("owner").first()
    shop2 = Shop.objects.filter(slug="shop2").select_related("owner").first()
    if shop1 is None:
        return {}
    factory, _ = Factory.objects.get_or_create(
        name="宁波暖冬服饰厂", defaults={"contact": "张厂长 0574-0000000"}
    )
    jacket = _factory_product(
        factory,
        "轻薄羽绒服",
        moq=100,
        lead=30,
        cost="180.00",
        variants=[("FAC-DOWN-M", "M", 30), ("FAC-DOWN-L", "L", 30), ("FAC-DOWN-XL", "XL", 20)],
    )
    fruit_factory, _ = Factory.objects.get_or_create(name="云南果园合作社")
    box = _factory_product(
        fruit_factory,
        "应季鲜果周订盒",
        moq=20,
        lead=2,
        cost="60.00",
        variants=[("FAC-FRUIT-STD", "标准盒", 10)],
    )
    now = timezone.now()
    out: dict[str, int] = {}
    clothing = Product.objects.filter(shop=shop1, category="clothing").order_by("pk").first()
    fruit = (
        Product.objects.filter(shop=shop1, name__contains="周订盒").first()
        or Product.objects.filter(shop=shop1, category="fruit").order_by("pk").first()
    )
    target = clothing or Product.objects.filter(shop=shop1).order_by("pk").first()
    _link(target, jacket)
    group = _campaign(
        shop1.owner,
        target,
        "冬季羽绒服拼团预售",
        kind=CampaignKind.GROUP,
        target_quantity=100,
        cap=500,
        deadline=(now + dt.timedelta(days=10)).isoformat(),
        balance_deadline=(now + dt.timedelta(days=13)).isoformat(),
        deposit_percent="10",
        per_fan_limit=5,
        tiers=[
            {
                "min_quantity": 100,
                "unit_price": str((target.price * Decimal("0.9")).quantize(Decimal("0.01"))),
            },
            {
                "min_quantity": 300,
                "unit_price": str((target.price * Decimal("0.7")).quantize(Decimal("0.01"))),
            },
        ],
    )
    out["group"] = group.pk
    variant = target.variants.order_by("pk").first()
    if variant is not None:
        for n in range(1, 13):
            user = user_model.objects.filter(username=f"fan{n}").first()
            if user is not None:
                pledge_place(
                    user=user,
                    campaign_id=group.pk,
                    variant_id=variant.pk,
                    quantity=1 + n % 3,
                    idempotency_key=f"demo-{group.pk}-{n}",
                )
    if fruit is not None:
        _link(fruit, box)
        out["subscription"] = _campaign(
            shop1.owner,
            fruit,
            "每周鲜果订阅",
            kind=CampaignKind.SUBSCRIPTION,
            target_quantity=20,
            cap=None,
            deadline=(now + dt.timedelta(days=7)).isoformat(),
            deposit_percent="20",
            tiers=[],
            cadence="weekly",
            cycles=None,
            cutoff_hours=48,
        ).pk
    if shop2 is not None:
        other = Product.objects.filter(shop=shop2).order_by("pk").first()
        if other is not None:
            _link(other, jacket)
            out["group_shop2"] = _campaign(
                shop2.owner,
                other,
                "羽绒服工厂直供团",
                kind=CampaignKind.GROUP,
                target_quantity=100,
                cap=None,
                deadline=(now + dt.timedelta(days=10)).isoformat(),
                balance_deadline=(now + dt.timedelta(days=13)).isoformat(),
                deposit_percent="10",
                tiers=[],
            ).pk
    return out
