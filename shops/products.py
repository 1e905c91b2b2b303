"""Product writes: a shop's own products with variants and a picture, and products picked from the platform
catalogue (选品: a factory product sold at a retail price within the platform's bounds)."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid, NotFound
from shops.images import picture_clean
from shops.models import Category, FactoryProduct, Product, Shop, ShopMember, Variant
from shops.roles import require_managing

PRICE_MAX = Decimal("1000000")
CENT = Decimal("0.01")
SKU_MAX = 64


@dataclass
class VariantIn:
    name: str
    sku: str
    price: Decimal | None = None
    id: int | None = None
    factory_variant_id: int | None = None


def price_clean(value: Any, *, field: str = "price") -> Decimal:
    """A money amount above zero, rounded to the cent; Invalid `price_invalid` otherwise."""
    try:
        price = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError, TypeError):
        price = Decimal(0)
    if not price.is_finite() or price <= 0 or price >= PRICE_MAX:
        raise Invalid(_("The price must be above zero."), code="price_invalid", detail={"field": field})
    return price


def _category_clean(category: str | None, default: str) -> str:
    category = category or default
    if category not in Category.values:
        raise Invalid(
            _("Choose a category from the list."), code="category_invalid", detail={"field": "category"}
        )
    return category


def _usual_category(shop: Shop) -> str:
    """The category most of the shop's products are in (a beauty shop adds beauty), else home goods."""
    top = (
        Product.objects.filter(shop=shop)
        .values("category")
        .annotate(n=Count("pk"))
        .order_by("-n", "category")
        .values_list("category", flat=True)
        .first()
    )
    return top or Category.HOME


def _variants_clean(variants: list[VariantIn], *, price: Decimal) -> list[VariantIn]:
    """Names and SKUs present and unique; a product without variants gets one default variant."""
    if not variants:
        return [VariantIn(name=_("Default"), sku="", price=price)]
    seen_names: set[str] = set()
    seen_skus: set[str] = set()
    for i, v in enumerate(variants):
        v.name, v.sku = (v.name or "").strip()[:100], (v.sku or "").strip()
        if not v.name:
            raise Invalid(_("Every variant needs a name."), code="variant_invalid", detail={"index": i})
        if len(v.sku) > SKU_MAX or not v.sku.isprintable():
            raise Invalid(
                _("A SKU is at most 64 plain characters."), code="variant_invalid", detail={"index": i}
            )
        if v.name in seen_names:
            raise Invalid(_("Two variants have the same name."), code="variant_invalid", detail={"index": i})
        seen_names.add(v.name)
        if v.sku:
            if v.sku in seen_skus:
                raise Conflict(_("Two variants have the same SKU."), code="sku_taken", detail={"sku": v.sku})
            seen_skus.add(v.sku)
        v.price = price_clean(v.price, field=f"variants.{i}.price") if v.price not in (None, "") else price
    taken = Variant.objects.filter(sku__in=seen_skus).exclude(pk__in=[v.id for v in variants if v.id])
    sku = taken.values_list("sku", flat=True).first()
    if sku:
        raise Conflict(
            _("SKU %(sku)s is in use already.") % {"sku": sku}, code="sku_taken", detail={"sku": sku}
        )
    return variants


def _auto_sku(product: Product, index: int) -> str:
    return f"S{product.shop_id}-P{product.pk}-{index + 1}"


def _picture(product: Product, image: UploadedFile | None) -> None:
    if image is not None:
        picture = picture_clean(image)
        product.image.save(picture.name, picture, save=False)


def product_create(
    *,
    member: ShopMember,
    name: str,
    price: Any,
    variants: list[VariantIn],
    category: str | None = None,
    brand: str = "",
    description: str = "",
    image: UploadedFile | None = None,
) -> Product:
    """One of the shop's own products; without variants it gets a single default variant."""
    require_managing(member, _("Only owners and managers add products."))
    name = (name or "").strip()
    if not name:
        raise Invalid(_("Give the product a name."), code="name_required", detail={"field": "name"})
    price = price_clean(price)
    category = _category_clean(category, _usual_category(member.shop))
    variants = _variants_clean(variants, price=price)
    product = Product(
        shop=member.shop,
        name=name[:200],
        category=category,
        brand=brand.strip()[:100],
        description=description.strip(),
        price=price,
    )
    _picture(product, image)
    return _save(product, variants)


def _save(product: Product, variants: list[VariantIn]) -> Product:
    try:
        with transaction.atomic():
            product.save()
            Variant.objects.bulk_create(
                Variant(
                    product=product,
                    name=v.name[:100],
                    sku=v.sku or _auto_sku(product, i),
                    price=v.price,
                    factory_variant_id=v.factory_variant_id,
                )
                for i, v in enumerate(variants)
            )
    except IntegrityError:
        raise Conflict(_("A SKU is in use already."), code="sku_taken") from None
    return product


def catalogue_list() -> Any:
    """The factory products offered to shops, with their variants and retail bounds."""
    return (
        FactoryProduct.objects.filter(in_catalogue=True)
        .select_related("factory")
        .prefetch_related("variants")
        .order_by("factory__name", "name", "pk")
    )


def product_pick(
    *, member: ShopMember, factory_product_id: Any, price: Any, name: str = "", description: str = ""
) -> Product:
    """选品: the factory product sold by this shop, one shop variant per factory variant (linked)."""
    require_managing(member, _("Only owners and managers add products."))
    try:
        fp = catalogue_list().get(pk=int(factory_product_id))
    except (FactoryProduct.DoesNotExist, ValueError, TypeError):
        raise NotFound(
            _("That product is not in the platform catalogue."), code="factory_product_not_found"
        ) from None
    price = price_clean(price)
    low, high = fp.retail_price_min, fp.retail_price_max
    if (low is not None and price < low) or (high is not None and price > high):
        raise Invalid(
            _("The platform allows a retail price from ¥%(low)s to ¥%(high)s for this product.")
            % {"low": low if low is not None else "0", "high": high if high is not None else "∞"},
            code="price_out_of_bounds",
            detail={"field": "price", "min": str(low) if low else None, "max": str(high) if high else None},
        )
    if Product.objects.filter(shop=member.shop, factory_product=fp, is_available=True).exists():
        raise Conflict(_("Your shop sells this product already."), code="already_picked")
    product = Product(
        shop=member.shop,
        name=(name or fp.name).strip()[:200],
        category=fp.category,
        brand=fp.factory.name[:100],
        description=(description or fp.description).strip(),
        price=price,
        factory_product=fp,
    )
    picks = []
    for fv in fp.variants.all():
        picks.append(VariantIn(name=fv.name, sku="", price=price, factory_variant_id=fv.pk))
    return _save(product, picks or [VariantIn(name=_("Default"), sku="", price=price)])


def product_update(
    *,
    member: ShopMember,
    product: Product,
    fields: dict[str, Any],
    variants: list[VariantIn] | None = None,
    image: UploadedFile | None = None,
) -> Product:
    """Change name, price, category, brand, description, availability, picture or the variants.

    Variants listed with an id are renamed or repriced; new ones are added; ones left out are taken off sale
    (a pledge may point at them, so they are never deleted)."""
    require_managing(member, _("Only owners and managers change products."))
    if "name" in fields:
        product.name = (fields["name"] or "").strip()[:200]
        if not product.name:
            raise Invalid(_("Give the product a name."), code="name_required", detail={"field": "name"})
    if "price" in fields:
        old_price, product.price = product.price, price_clean(fields["price"])
        # The platform's bounds apply to a price the shop sets, not to one it had before they existed.
        if product.factory_product_id and product.price != old_price:
            fp = product.factory_product
            low, high = fp.retail_price_min, fp.retail_price_max
            if (low is not None and product.price < low) or (high is not None and product.price > high):
                raise Invalid(_("The price is outside the platform's bounds."), code="price_out_of_bounds")
    if "category" in fields:
        product.category = _category_clean(fields["category"], product.category)
    if "brand" in fields:
        product.brand = (fields["brand"] or "").strip()[:100]
    if "description" in fields:
        product.description = (fields["description"] or "").strip()
    if "is_available" in fields:
        product.is_available = bool(fields["is_available"])
    existing = {v.pk: v for v in product.variants.all()}
    if variants is not None:
        if any(v.id and v.id not in existing for v in variants):
            raise Invalid(_("A variant does not belong to this product."), code="variant_invalid")
        variants = _variants_clean(variants, price=product.price)
    _picture(product, image)
    try:
        with transaction.atomic():
            product.save()
            if variants is not None:
                kept = set()
                for i, v in enumerate(variants):
                    if v.id:
                        row = existing[v.id]
                        row.name, row.price, row.is_available = v.name, v.price, True
                        row.sku = v.sku or row.sku
                        row.save(update_fields=["name", "price", "is_available", "sku"])
                        kept.add(v.id)
                    else:
                        Variant.objects.create(
                            product=product,
                            name=v.name,
                            price=v.price,
                            sku=v.sku or f"{_auto_sku(product, len(existing) + i)}",
                        )
                Variant.objects.filter(product=product).exclude(
                    Q(pk__in=kept) | Q(pk__gt=max(existing, default=0))
                ).update(is_available=False)
    except IntegrityError:
        raise Conflict(_("A SKU is in use already."), code="sku_taken") from None
    return product


def product_retire(*, member: ShopMember, product: Product) -> None:
    """Take a product off sale (soft: campaigns and pledges keep pointing at it)."""
    require_managing(member, _("Only owners and managers change products."))
    Product.objects.filter(pk=product.pk).update(is_available=False)
