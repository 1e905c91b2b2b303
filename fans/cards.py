"""Card providers: how a card message's payload is built and checked.

`fans` owns product cards; higher apps (preorders: campaign cards) register theirs in
AppConfig.ready(), so this lower app never imports them (STYLE.md layering).
"""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from shops.errors import Invalid
from shops.models import Product, Shop

CardBuilder = Callable[[Shop, dict[str, Any]], dict[str, Any]]
_builders: dict[str, CardBuilder] = {}


def card_builder_register(kind: str, builder: CardBuilder) -> None:
    _builders[kind] = builder


def card_build(kind: str, shop: Shop, payload: dict[str, Any] | None) -> dict[str, Any]:
    builder = _builders.get(kind)
    if builder is None:
        raise Invalid(_("Cards of this kind are not available yet."))
    if not isinstance(payload, dict):
        raise Invalid(_("A card needs a payload object."))
    return builder(shop, payload)


def product_card_build(shop: Shop, payload: dict[str, Any]) -> dict[str, Any]:
    """Snapshot of the product at send time, so the card reads the same later."""
    try:
        product_id = int(payload.get("product"))
    except (TypeError, ValueError):
        raise Invalid(_("A product card needs a product id.")) from None
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


card_builder_register("product_card", product_card_build)
