"""Preorders' steps of the onboarding checklist (shops.onboarding): a campaign, and its poster shared."""

from django.urls import reverse

from preorders.models import Campaign
from shops.models import Shop, ShopMilestone
from shops.onboarding import StepState


def _latest(shop: Shop) -> Campaign | None:
    return Campaign.objects.filter(shop=shop).order_by("-pk").only("pk").first()


def campaign_step(shop: Shop) -> StepState:
    campaign = _latest(shop)
    if campaign is None:
        return StepState(done=False, url=reverse("campaigns") + f"?shop={shop.pk}")
    return StepState(done=True, url=reverse("campaign-detail", args=[campaign.pk]))


def poster_step(shop: Shop) -> StepState:
    campaign = _latest(shop)
    shared = ShopMilestone.objects.filter(shop=shop, key=ShopMilestone.Key.POSTER_SHARED).exists()
    url = (
        reverse("campaign-detail", args=[campaign.pk])
        if campaign
        else reverse("campaigns") + f"?shop={shop.pk}"
    )
    return StepState(done=shared, url=url)
