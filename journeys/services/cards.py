"""A card step's spec ({"card": "recommended" | "campaign" | "product", ...}) to a card kind and the payload
its builder takes (fans.chat.cards.card_build), resolved at send time so the card shows what is on now."""

from typing import Any

from preorders.models import Campaign, CampaignStatus
from shops.models import Product, Shop

CARD_SPECS = ("recommended", "campaign", "product")


def _live_campaign(shop: Shop) -> int | None:
    return (
        Campaign.objects.filter(shop=shop, status=CampaignStatus.LIVE)
        .order_by("-launched_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _product(shop: Shop) -> int | None:
    return (
        Product.objects.filter(shop=shop, is_available=True)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


def card_payload(shop: Shop, spec: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(card kind, payload), or None when there is nothing to show: "recommended" is the shop's newest live
    campaign, else its newest available product."""
    which = spec.get("card")
    if which == "campaign":
        campaign = spec.get("campaign") or _live_campaign(shop)
        return ("campaign_card", {"campaign": campaign}) if campaign else None
    if which == "product":
        product = spec.get("product") or _product(shop)
        return ("product_card", {"product": product}) if product else None
    if which == "recommended":
        campaign = _live_campaign(shop)
        if campaign:
            return "campaign_card", {"campaign": campaign, "reason": ""}
        product = _product(shop)
        return ("product_card", {"product": product}) if product else None
    return None
