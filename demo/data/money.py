"""Demo money loop: two closed group pre-orders in shop1 that walked the real services.

- 「春季新品拼团（已发货）」: closed, eight fans paid the balance, two let it lapse (deposits forfeited), the factory
  order was built from paid units and sent (the release split the money between factory, shop and
  platform), seven parcels shipped (five delivered, two confirmed), one paid pledge missed ship_by and got
  its 慢就赔 compensation, one fan asked for an after-sales refund that the owner approved, one is open.
- 「秋冬新品拼团（待付尾款）」: closed, the balance window is open: half the fans paid, the others see the balance due
  in chat and on /me/orders/.

Dates are moved with plain updates between the steps (the services check "now"), so the campaign pages,
statements and "my orders" show a believable history. Idempotent: a campaign found by its title is left as
it is, so a second run stores nothing new.
"""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from payments.provider import payment_provider
from preorders.models import Campaign, FactoryOrderSource, Pledge
from preorders.services import campaign_close, campaign_create, campaign_launch, pledge_place
from preorders.services.after_sales import after_sales_approve, after_sales_request
from preorders.services.balance import balance_lapse_run, balance_pay
from preorders.services.factory_orders import campaign_after_lapse, factory_order_transition
from preorders.services.fulfilment import shipment_confirm, shipment_deliver, shipment_record
from preorders.services.late_compensation import late_compensation_run
from shops.models import Factory, FactoryProduct, FactoryVariant, Product, Shop, Variant

SHIPPED_TITLE = "春季新品拼团（已发货）"
OPEN_TITLE = "秋冬新品拼团（待付尾款）"


def _linked_product(shop: Shop, fp: FactoryProduct, *, skip: int) -> Product | None:
    """One of the shop's own clothing products (catalogue pictures, brand, description), not yet in a
    campaign, linked variant by variant to the factory product."""
    candidates = list(
        Product.objects.filter(shop=shop, category="clothing", campaigns__isnull=True).order_by("pk")
    )
    candidates = [p for p in candidates if p.factory_product_id in (None, fp.pk)]
    if len(candidates) <= skip:
        return None
    product = candidates[skip]
    Product.objects.filter(pk=product.pk).update(factory_product=fp)
    product.factory_product = fp
    for n, variant in enumerate(product.variants.order_by("pk")):
        fv, _ = FactoryVariant.objects.get_or_create(
            sku=f"FAC-{fp.pk}-{n}", defaults={"factory_product": fp, "name": variant.name, "moq": 2}
        )
        if variant.factory_variant_id != fv.pk:
            Variant.objects.filter(pk=variant.pk).update(factory_variant=fv)
    return product


def _factory_product(name: str, cost: str) -> FactoryProduct:
    factory, _ = Factory.objects.get_or_create(name="杭州轻衣制衣厂", defaults={"contact": "李经理"})
    fp, _ = FactoryProduct.objects.get_or_create(
        factory=factory, name=name, defaults={"moq": 8, "lead_time_days": 3, "unit_cost": Decimal(cost)}
    )
    return fp


def _cost_from(fp: FactoryProduct, product: Product) -> None:
    """A believable factory cost: about 45% of the shop's price."""
    cost = (product.price * Decimal("0.45")).quantize(Decimal("0.01"))
    FactoryProduct.objects.filter(pk=fp.pk).update(unit_cost=cost)
    fp.unit_cost = cost


def _closed_campaign(owner, product: Product, title: str, buyers: list, *, tier_price: str) -> Campaign:
    now = timezone.now()
    campaign = campaign_create(
        user=owner,
        kind="group",
        product_id=product.pk,
        title=title,
        target_quantity=10,
        deadline=(now + dt.timedelta(hours=1)).isoformat(),
        balance_deadline=(now + dt.timedelta(days=2)).isoformat(),
        ship_by=(now + dt.timedelta(days=9)).isoformat(),
        deposit_percent="20",
        tiers=[{"min_quantity": 10, "unit_price": tier_price}],
        late_compensation_percent="5",
    )
    campaign_launch(user=owner, campaign_id=campaign.pk)
    variants = list(product.variants.order_by("pk"))
    for n, user in enumerate(buyers):
        pledge_place(
            user=user,
            campaign_id=campaign.pk,
            variant_id=variants[n % len(variants)].pk,
            quantity=1 + n % 2,
            idempotency_key=f"demo-money-{campaign.pk}-{n}",
        )
    Campaign.objects.filter(pk=campaign.pk).update(deadline=now - dt.timedelta(seconds=1))
    campaign_close(campaign_id=campaign.pk)
    return Campaign.objects.get(pk=campaign.pk)


def _pay(campaign: Campaign, count: int) -> None:
    for pledge in Pledge.objects.filter(campaign=campaign, status="confirmed").order_by("pk")[:count]:
        balance_pay(user=pledge.user, pledge_id=pledge.pk, idempotency_key=f"demo-balance-{pledge.pk}")
    # The provider's notifications normally arrive at its commit; inside an outer transaction (the demo's
    # tests) they wait for it, so ask the simulated provider to deliver what nobody has acknowledged yet.
    provider = payment_provider()
    if hasattr(provider, "redeliver"):
        provider.redeliver(older_than_s=0)


def demo_money_ensure() -> dict[str, int]:
    shop = Shop.objects.filter(slug="shop1").select_related("owner").first()
    if shop is None:
        return {}
    user_model = get_user_model()
    buyers = [u for u in (user_model.objects.filter(username=f"fan{n}").first() for n in range(1, 13)) if u]
    if len(buyers) < 10:
        return {}
    out: dict[str, int] = {}
    existing = Campaign.objects.filter(shop=shop, title=SHIPPED_TITLE).first()
    if existing is None:
        fp = _factory_product("轻薄外套（代工）", "58.00")
        product = _linked_product(shop, fp, skip=0)
        if product is None:
            return out
        _cost_from(fp, product)
        tier = str((product.price * Decimal("0.8")).quantize(Decimal("0.01")))
        campaign = _closed_campaign(shop.owner, product, SHIPPED_TITLE, buyers[:10], tier_price=tier)
        _pay(campaign, 8)
        # The balance deadline passes: two pledges lapse, the order is built from paid units and sent.
        past = timezone.now()
        Campaign.objects.filter(pk=campaign.pk).update(
            deadline=past - dt.timedelta(days=12),
            balance_deadline=past - dt.timedelta(days=9),
            ship_by=past + dt.timedelta(days=5),
        )
        balance_lapse_run(campaign_id=campaign.pk)
        campaign_after_lapse(campaign_id=campaign.pk)
        order = FactoryOrderSource.objects.get(campaign=campaign).order
        factory_order_transition(order_id=order.pk, status="sent")
        paid = list(Pledge.objects.filter(campaign=campaign, status="paid").order_by("pk"))
        shipments = []
        for n, pledge in enumerate(paid[:7]):
            shipments.append(
                shipment_record(
                    order_id=order.pk,
                    pledges=[pledge.pk],
                    carrier="顺丰速运",
                    tracking_number=f"SF10{campaign.pk:04d}{n:04d}",
                    recorded_by=shop.owner,
                )
            )
        for s in shipments[:5]:
            shipment_deliver(shipment_id=s.pk)
        for s in shipments[:2]:
            shipment_confirm(shipment_id=s.pk)
        # ship_by passes with the eighth paid pledge still in the warehouse: 慢就赔.
        Campaign.objects.filter(pk=campaign.pk).update(ship_by=timezone.now() - dt.timedelta(hours=1))
        late_compensation_run(campaign_id=campaign.pk)
        delivered = [s.items.first().pledge for s in shipments[2:5]]
        approved = after_sales_request(
            user=delivered[0].user,
            pledge_id=delivered[0].pk,
            kind="refund",
            reason="袖口有线头，申请部分退款",
            amount="20.00",
        )
        after_sales_approve(user=shop.owner, request_id=approved.pk, reason="抱歉，已退 20 元")
        after_sales_request(
            user=delivered[1].user, pledge_id=delivered[1].pk, kind="return", reason="尺码偏小，想退货"
        )
        existing = campaign
    out["shipped"] = existing.pk
    open_campaign = Campaign.objects.filter(shop=shop, title=OPEN_TITLE).first()
    if open_campaign is None:
        fp = _factory_product("秋冬针织（代工）", "88.00")
        product = _linked_product(shop, fp, skip=0)
        if product is None:
            return out
        _cost_from(fp, product)
        tier = str((product.price * Decimal("0.85")).quantize(Decimal("0.01")))
        open_campaign = _closed_campaign(shop.owner, product, OPEN_TITLE, buyers[2:12], tier_price=tier)
        _pay(open_campaign, 5)
    out["balance_open"] = open_campaign.pk
    return out
