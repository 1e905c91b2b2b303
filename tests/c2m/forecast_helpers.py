"""Shared setup for the forecast tests: a shop's past campaigns with pledges driven by the fans' tags."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from fans.chat.models import Fan
from fans.crm.models import Tag
from preorders.models import Campaign, CampaignStatus, Pledge, PledgeStatus
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign, shop_product


def tag(code: str) -> Tag:
    return Tag.objects.get(group__code="skin_type", group__shop__isnull=True, code=code)


def fans_with(shop, n: int, tags: list[int], *, joined_days_ago: int = 60) -> list[Fan]:
    fans = [FanFactory(shop=shop) for _ in range(n)]
    Fan.objects.filter(pk__in=[f.pk for f in fans]).update(
        tag_ids=tags, joined_at=timezone.now() - dt.timedelta(days=joined_days_ago)
    )
    for f in fans:
        f.refresh_from_db()
    return fans


def pledge(campaign: Campaign, fan: Fan, variant, quantity: int = 1, status=PledgeStatus.ACTIVE) -> Pledge:
    return Pledge.objects.create(
        campaign=campaign,
        fan=fan,
        user=fan.user,
        variant=variant,
        variant_name=variant.name,
        sku=variant.sku,
        quantity=quantity,
        unit_price=variant.price,
        deposit_amount=Decimal("10.00"),
        status=status,
    )


def past_campaign(owner, shop, pledges: list[tuple[Fan, str]], *, days_ago: int = 20, quantity: int = 1):
    """A finished campaign of the shop (deadline `days_ago` in the past) whose fans chose variant names."""
    product, v_l, v_m = shop_product(shop)
    campaign = make_campaign(owner, product)
    by_name = {"L": v_l, "M": v_m}
    for fan, name in pledges:
        pledge(campaign, fan, by_name[name], quantity)
    launched = timezone.now() - dt.timedelta(days=days_ago + 7)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.SUCCEEDED,
        launched_at=launched,
        deadline=timezone.now() - dt.timedelta(days=days_ago),
    )
    return campaign
