from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from shops.models import Product, Shop, ShopMember


def shop_list_for_user(*, user: AbstractBaseUser) -> list[Shop]:
    """Shops the user works for, then shops they follow, each annotated with `role`."""
    seen: dict[int, Shop] = {}
    for member in (
        ShopMember.objects.filter(user=user, is_active=True).select_related("shop").order_by("shop_id")
    ):
        member.shop.role = member.role
        seen[member.shop_id] = member.shop
    for shop in Shop.objects.filter(fans__user=user).order_by("pk"):
        if shop.pk not in seen:
            shop.role = "fan"
            seen[shop.pk] = shop
    return list(seen.values())


def product_list(*, shop: Shop, category: str | None = None) -> QuerySet[Product]:
    qs = Product.objects.filter(shop=shop).prefetch_related("variants").order_by("category", "pk")
    if category:
        qs = qs.filter(category=category)
    return qs
