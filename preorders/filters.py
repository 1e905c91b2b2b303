"""The "campaign" fan filter (fans.filters.EXTRA_FILTERS): fans holding a pledge in a campaign."""

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from core.errors import Invalid
from fans.chat.models import Fan
from preorders.models import Campaign, Pledge, PledgeStatus
from shops.models import Shop

PARTICIPATING = (PledgeStatus.ACTIVE, PledgeStatus.PAUSED, PledgeStatus.CONFIRMED)


class CampaignParticipationFilter:
    def clean(self, shop: Shop, raw: Any) -> int:
        try:
            campaign_id = int(raw)
        except (TypeError, ValueError):
            raise Invalid(_("campaign must be an id.")) from None
        if not Campaign.objects.filter(pk=campaign_id, shop=shop).exists():
            raise Invalid(_("That campaign is not in this shop."), code="not_found")
        return campaign_id

    def apply(self, shop: Shop, qs: QuerySet[Fan], value: int) -> QuerySet[Fan]:
        return qs.filter(
            Exists(Pledge.objects.filter(fan=OuterRef("pk"), campaign_id=value, status__in=PARTICIPATING))
        )
