"""Reads for campaigns, pledges and factory orders."""

import threading
import time
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet, Sum

from preorders.models import (
    HOLDING_STATUSES,
    Campaign,
    CampaignStatus,
    FactoryOrder,
    Pledge,
    Tier,
)
from shops.models import Factory, FactoryProduct, ShopMember, Variant


def unit_price_at(*, base: Decimal, tiers: list[Tier] | list[dict[str, Any]], quantity: int) -> Decimal:
    """The price of the highest tier reached by `quantity` committed units (base price below the first)."""
    price = base
    for tier in tiers:
        min_q = tier["min_quantity"] if isinstance(tier, dict) else tier.min_quantity
        if quantity >= min_q:
            price = tier["unit_price"] if isinstance(tier, dict) else tier.unit_price
    return Decimal(price)


def campaign_tiers(campaign: Campaign) -> list[Tier]:
    cache = getattr(campaign, "_prefetched_objects_cache", {})
    if "tiers" in cache:
        return sorted(cache["tiers"], key=lambda t: t.min_quantity)
    return list(Tier.objects.filter(campaign=campaign).order_by("min_quantity"))


# Tiers of launched campaigns, per process: nothing changes them after launch (admin shows them read-only),
# and a busy campaign would otherwise read them once per pledge. Keyed by launch time as well, so a reused
# id (SQLite test databases) never sees another campaign's tiers; entries expire to bound memory.
TIER_CACHE_S = 60.0
_tier_cache: dict[tuple[int, Any], tuple[float, list[Tier]]] = {}
_tier_cache_lock = threading.Lock()


def campaign_tiers_cached(campaign: Campaign) -> list[Tier]:
    """campaign_tiers for a launched campaign, from a short per-process cache; drafts are always read."""
    if campaign.launched_at is None:
        return campaign_tiers(campaign)
    cache_key = (campaign.pk, campaign.launched_at)
    now = time.monotonic()
    hit = _tier_cache.get(cache_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    tiers = list(Tier.objects.filter(campaign_id=campaign.pk).order_by("min_quantity"))
    with _tier_cache_lock:
        for stale in [k for k, (until, _t) in _tier_cache.items() if until <= now]:
            del _tier_cache[stale]
        _tier_cache[cache_key] = (now + TIER_CACHE_S, tiers)
    return tiers


def campaign_current_unit_price(campaign: Campaign) -> Decimal:
    if campaign.final_unit_price is not None:
        return campaign.final_unit_price
    return unit_price_at(
        base=campaign.base_unit_price, tiers=campaign_tiers(campaign), quantity=campaign.committed_quantity
    )


def campaign_list(
    *, user: AbstractBaseUser, shop_id: int | None = None, status: str | None = None
) -> QuerySet[Campaign]:
    """Campaigns of shops the user works for (all), plus launched ones of shops they follow."""
    staff_shops = ShopMember.objects.filter(user=user, is_active=True).values("shop_id")
    qs = Campaign.objects.filter(
        Q(shop_id__in=staff_shops) | (Q(shop__fans__user=user) & ~Q(status=CampaignStatus.DRAFT))
    ).distinct()
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("shop", "product").prefetch_related("tiers").order_by("-created_at", "-pk")


def pledge_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Pledge]:
    return Pledge.objects.filter(user=user).select_related("campaign").order_by("-created_at", "-pk")


def pledge_list_for_campaign(*, campaign: Campaign) -> QuerySet[Pledge]:
    return Pledge.objects.filter(campaign=campaign).select_related("fan").order_by("pk")


def factory_order_list() -> QuerySet[FactoryOrder]:
    return (
        FactoryOrder.objects.select_related("factory_product__factory", "cycle")
        .prefetch_related("lines")
        .order_by("-created_at", "-pk")
    )


def factory_order_totals(order: FactoryOrder) -> dict[str, Any]:
    lines = list(order.lines.all())
    return {
        "quantity": sum(line.quantity for line in lines),
        "deposits": sum((line.deposits for line in lines), Decimal("0.00")),
        "value": sum((line.value for line in lines), Decimal("0.00")),
    }


def factory_demand(*, factory: Factory) -> dict[str, Any]:
    """Live committed demand by factory variant against each MOQ, summed over every shop's campaigns."""
    products = FactoryProduct.objects.filter(factory=factory).prefetch_related("variants").order_by("pk")
    rows = (
        Pledge.objects.filter(
            campaign__factory_product__factory=factory,
            campaign__status=CampaignStatus.LIVE,
            status__in=HOLDING_STATUSES,
        )
        .values("campaign__factory_product_id", "variant__factory_variant_id")
        .annotate(quantity=Sum("quantity"))
    )
    by_variant: dict[tuple[int, int | None], int] = {
        (r["campaign__factory_product_id"], r["variant__factory_variant_id"]): r["quantity"] for r in rows
    }
    live = (
        Campaign.objects.filter(factory_product__factory=factory, status=CampaignStatus.LIVE)
        .values("factory_product_id")
        .annotate(n=Sum("committed_quantity"))
    )
    committed = {r["factory_product_id"]: r["n"] for r in live}
    out = []
    for product in products:
        variants = [
            {
                "id": v.pk,
                "sku": v.sku,
                "name": v.name,
                "moq": v.moq,
                "committed": by_variant.get((product.pk, v.pk), 0),
                "reached": by_variant.get((product.pk, v.pk), 0) >= v.moq,
            }
            for v in sorted(product.variants.all(), key=lambda v: v.sku)
        ]
        unlinked = by_variant.get((product.pk, None), 0)
        total = committed.get(product.pk, 0) or 0
        out.append(
            {
                "id": product.pk,
                "name": product.name,
                "moq": product.moq,
                "lead_time_days": product.lead_time_days,
                "committed": total,
                "reached": total >= product.moq,
                "variants": variants,
                "unlinked_variants": unlinked,
            }
        )
    return {"factory": {"id": factory.pk, "name": factory.name}, "products": out}


def campaign_variants_offered(campaign: Campaign) -> QuerySet[Variant]:
    """The product variants a campaign offers: those it chose, or all of the product's if it chose none."""
    chosen = campaign.variants.all()
    return chosen if chosen.exists() else campaign.product.variants.all()
