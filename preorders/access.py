"""Permission-checked fetches for campaigns and pledges: the only way views reach them."""

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.errors import Forbidden, NotFound
from core.limits import MANAGING_ROLES
from preorders.board_links import BOARD_SALT, board_link_state, board_token_max_age  # noqa: F401
from preorders.models import (
    AfterSalesRequest,
    BoxItem,
    Campaign,
    CampaignStatus,
    FactoryOrder,
    FactoryOrderSource,
    Pledge,
    Shipment,
)
from shops.models import Factory, Product, ShopMember


def _member_role(user: AbstractBaseUser, shop_id: int) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        ShopMember.objects.filter(user=user, shop_id=shop_id, is_active=True)
        .values_list("role", flat=True)
        .first()
    )


def access_product_to_campaign(user: AbstractBaseUser, product_id: int) -> Product:
    """A product of a shop the user owns or manages; assistants get Forbidden, anyone else NotFound."""
    product = Product.objects.select_related("shop", "factory_product").filter(pk=product_id).first()
    role = _member_role(user, product.shop_id) if product else None
    if role is None:
        raise NotFound()
    if role not in MANAGING_ROLES:
        raise Forbidden()
    return product


def access_campaign_to_manage(user: AbstractBaseUser, campaign_id: int, *, lock: bool = False) -> Campaign:
    qs = Campaign.objects.select_related("shop", "product", "factory_product")
    if lock:
        qs = qs.select_for_update(of=("self",))
    campaign = qs.filter(pk=campaign_id).first()
    role = _member_role(user, campaign.shop_id) if campaign else None
    if role is None:
        raise NotFound()
    if role not in MANAGING_ROLES:
        raise Forbidden()
    return campaign


def access_campaign(user: AbstractBaseUser, campaign_id: int) -> tuple[Campaign, bool]:
    """(campaign, is_staff). Launched campaigns are public pages; drafts only for the shop's staff."""
    campaign = (
        Campaign.objects.select_related("shop", "product", "factory_product")
        .prefetch_related("tiers")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise NotFound()
    is_staff = _member_role(user, campaign.shop_id) is not None
    if campaign.status == CampaignStatus.DRAFT and not is_staff:
        raise NotFound()
    return campaign, is_staff


def access_pledge(user: AbstractBaseUser, pledge_id: int, *, lock: bool = False) -> Pledge:
    """The caller's own pledge (staff see pledges through selectors, never change them)."""
    if not user.is_authenticated:
        raise NotFound()
    qs = Pledge.objects.select_related("campaign")
    if lock:
        qs = qs.select_for_update(of=("self",))
    pledge = qs.filter(Q(pk=pledge_id) & Q(user=user)).first()
    if pledge is None:
        raise NotFound()
    return pledge


def access_box_item_to_manage(user: AbstractBaseUser, item_id: int, *, lock: bool = False) -> BoxItem:
    """A fruit-box item of a campaign the user manages (as access_campaign_to_manage: 404, or 403)."""
    qs = BoxItem.objects.select_related("campaign")
    if lock:
        qs = qs.select_for_update(of=("self",))
    item = qs.filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    access_campaign_to_manage(user, item.campaign_id)
    return item


# --- fulfilment ------------------------------------------------------------------------------------------


def is_admin(user: AbstractBaseUser) -> bool:
    """The platform's staff (Django admin users), who see every factory order."""
    return bool(user.is_authenticated and user.is_staff)


def factory_order_shop_ids(order_id: int) -> set[int]:
    """The shops whose campaigns (or subscription cycles) feed a factory order."""
    return {
        shop
        for pair in FactoryOrderSource.objects.filter(order_id=order_id).values_list(
            "campaign__shop_id", "cycle__campaign__shop_id"
        )
        for shop in pair
        if shop is not None
    }


def _managed_shop_ids(user: AbstractBaseUser, shop_ids: set[int]) -> set[int]:
    """Of `shop_ids`, those the user manages. NotFound when they work for none of them, Forbidden when
    they only assist."""
    if not user.is_authenticated or not shop_ids:
        raise NotFound()
    roles = dict(
        ShopMember.objects.filter(user=user, shop_id__in=shop_ids, is_active=True).values_list(
            "shop_id", "role"
        )
    )
    if not roles:
        raise NotFound()
    managed = {shop for shop, role in roles.items() if role in MANAGING_ROLES}
    if not managed:
        raise Forbidden()
    return managed


def access_factory_order_to_ship(
    user: AbstractBaseUser, order_id: int
) -> tuple[FactoryOrder, set[int] | None]:
    """(order, shop ids whose pledges the user may ship; None: every pledge, for the platform's staff).

    An owner or manager of a shop feeding the order ships their own fans' pledges; anyone else: 404."""
    order = (
        FactoryOrder.objects.select_related("factory_product__factory", "cycle").filter(pk=order_id).first()
    )
    if order is None:
        raise NotFound()
    if is_admin(user):
        return order, None
    return order, _managed_shop_ids(user, factory_order_shop_ids(order.pk))


def access_shipment_to_manage(user: AbstractBaseUser, shipment_id: int) -> Shipment:
    """A shipment for the platform's staff or a manager of the shop whose fan it goes to."""
    shipment = Shipment.objects.select_related("fan", "factory_order").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound()
    if not is_admin(user):
        _managed_shop_ids(user, {shipment.fan.shop_id})
    return shipment


def access_shipment_of_fan(user: AbstractBaseUser, shipment_id: int) -> Shipment:
    """The caller's own parcel (they are its fan)."""
    if not user.is_authenticated:
        raise NotFound()
    shipment = Shipment.objects.filter(pk=shipment_id, fan__user=user).first()
    if shipment is None:
        raise NotFound()
    return shipment


def access_board(token: str, *, max_age: dt.timedelta | None = None) -> Factory:
    """The factory a signed board link belongs to; a bad or foreign signature is 404, an expired one 403
    `token_expired` (older than `max_age`, by default FANSI_BOARD_TOKEN_MAX_AGE_DAYS), a replaced or revoked
    one 403 `token_revoked` (preorders.board_links)."""
    factory_id, state = board_link_state(token, max_age=max_age)
    if state == "expired":
        raise Forbidden(
            _("This board link has expired; ask the platform for a new one."), code="token_expired"
        )
    if state == "revoked":
        raise Forbidden(
            _("This board link was replaced or revoked; ask the platform for the current one."),
            code="token_revoked",
        )
    factory = Factory.objects.filter(pk=factory_id).first() if state == "ok" else None
    if factory is None:
        raise NotFound()
    return factory


def access_factory_order_on_board(factory: Factory, order_id: int) -> FactoryOrder:
    order = (
        FactoryOrder.objects.select_related("factory_product__factory", "cycle")
        .filter(pk=order_id, factory_product__factory=factory)
        .first()
    )
    if order is None:
        raise NotFound()
    return order


def access_shipment_on_board(factory: Factory, shipment_id: int) -> Shipment:
    shipment = (
        Shipment.objects.select_related("factory_order")
        .filter(pk=shipment_id, factory_order__factory_product__factory=factory)
        .first()
    )
    if shipment is None:
        raise NotFound()
    return shipment


def access_after_sales_to_decide(
    user: AbstractBaseUser, request_id: int, *, lock: bool = False
) -> AfterSalesRequest:
    """An after-sales request for an owner or manager of its shop (assistants: 403, anyone else: 404)."""
    qs = AfterSalesRequest.objects.select_related("pledge__campaign")
    if lock:
        qs = qs.select_for_update(of=("self",))
    request = qs.filter(pk=request_id).first()
    if request is None:
        raise NotFound()
    _managed_shop_ids(user, {request.pledge.campaign.shop_id})
    return request


def access_after_sales_photo(user: AbstractBaseUser, request_id: int) -> AfterSalesRequest:
    """The photo of a request: for the fan who sent it and the shop's staff, nobody else."""
    request = AfterSalesRequest.objects.select_related("pledge__campaign").filter(pk=request_id).first()
    if request is None or not user.is_authenticated:
        raise NotFound()
    if request.pledge.user_id == user.pk or _member_role(user, request.pledge.campaign.shop_id):
        return request
    raise NotFound()
