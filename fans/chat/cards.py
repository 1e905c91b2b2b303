"""Card providers: how a card message's payload is built and checked.

Chat owns product cards; higher apps (preorders: campaign cards) register theirs in
AppConfig.ready() through fans.chat.hooks.card_builders, so this lower app never imports them.
"""

from typing import Any

from django.utils.translation import gettext as _

from core.errors import Invalid
from core.inputs import strict_id
from fans.chat.hooks import card_builders
from shops.models import Product, Shop


def card_build(kind: str, shop: Shop, payload: dict[str, Any] | None) -> dict[str, Any]:
    builder = card_builders.get(kind)
    if builder is None:
        raise Invalid(_("Cards of this kind are not available yet."))
    if not isinstance(payload, dict):
        raise Invalid(_("A card needs a payload object."))
    return builder(shop, payload)


def product_card_build(shop: Shop, payload: dict[str, Any]) -> dict[str, Any]:
    """Snapshot of the product at send time, so the card reads the same later."""
    product_id = strict_id(payload.get("product"))
    if product_id is None:
        raise Invalid(_("A product card needs a product id."))
    product = Product.objects.filter(pk=product_id, shop=shop).first()
    if product is None:
        raise Invalid(_("That product is not in this shop."), code="not_found")
    card = {
        "product": product.pk,
        "name": product.name,
        "price": str(product.price),
        "currency": product.currency,
        "image": product.image.url if product.image else "",
        "available": product.is_available,
    }
    if isinstance(payload.get("reason"), str):
        card["reason"] = payload["reason"][:200]
    return card


card_builders.register("product_card", product_card_build)
