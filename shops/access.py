"""Permission-checked fetches for shops: the only way views reach a shop as staff."""

from django.contrib.auth.models import AbstractBaseUser

from core.errors import NotFound
from shops.models import Product, ShopMember


def staff_shop_ids(user: AbstractBaseUser) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(ShopMember.objects.filter(user=user, is_active=True).values_list("shop_id", flat=True))


def access_shop_membership(user: AbstractBaseUser, shop_id: int | None = None) -> ShopMember:
    """The user's staff membership in shop_id (or their first shop); NotFound for anyone else."""
    if not user.is_authenticated:
        raise NotFound()
    qs = ShopMember.objects.select_related("shop").filter(user=user, is_active=True).order_by("shop_id")
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    membership = qs.first()
    if membership is None:
        raise NotFound()
    return membership


def access_product(user: AbstractBaseUser, product_id: int) -> tuple[Product, ShopMember]:
    """A product of a shop the user works for, with their membership there; NotFound for anyone else."""
    product = Product.objects.select_related("shop", "factory_product").filter(pk=product_id).first()
    if product is None:
        raise NotFound()
    return product, access_shop_membership(user, product.shop_id)
