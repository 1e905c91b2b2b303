"""Permission-checked fetches for the insight report: a factory's signed link, or the campaign's team."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils.translation import gettext as _

from core.errors import Invalid, NotFound
from preorders.access import access_campaign_to_manage, is_admin
from preorders.models import Campaign, CampaignStatus
from shops.models import Factory


def campaign_id_parse(raw: str | None) -> int:
    """?campaign= is required and an id: a coded 400 otherwise."""
    if not raw:
        raise Invalid(_("Say which campaign: ?campaign=<id>."), code="campaign_required")
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(_("campaign must be an id."), code="campaign_invalid") from None
    if value <= 0:
        raise Invalid(_("campaign must be an id."), code="campaign_invalid")
    return value


def access_campaign_on_board(factory: Factory, raw: str | None) -> Campaign:
    """A launched campaign of one of the factory's products, or made from a design round's winner that was
    assigned to the factory; any other (another factory's, a draft) is 404."""
    campaign = (
        Campaign.objects.select_related("shop", "product", "factory_product")
        .filter(Q(factory_product__factory=factory) | Q(design_winner__round__factory=factory))
        .filter(pk=campaign_id_parse(raw))
        .exclude(status=CampaignStatus.DRAFT)
        .first()
    )
    if campaign is None:
        raise NotFound()
    return campaign


def access_campaign_insight(user: AbstractBaseUser, campaign_id: int) -> Campaign:
    """The platform's staff see any campaign's insight; the campaign's owner and managers see theirs."""
    if is_admin(user):
        campaign = (
            Campaign.objects.select_related("shop", "product", "factory_product")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None:
            raise NotFound()
        return campaign
    return access_campaign_to_manage(user, campaign_id)
