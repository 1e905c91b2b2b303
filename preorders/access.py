"""Permission-checked fetches for campaigns and pledges: the only way views reach them."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from core.errors import Forbidden, NotFound
from core.limits import MANAGING_ROLES
from preorders.models import BoxItem, Campaign, CampaignStatus, Pledge
from shops.models import Product, ShopMember


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
