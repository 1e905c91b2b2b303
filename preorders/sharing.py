"""What a shared campaign link shows anyone, logged in or not: the links (with the sharer's referral code),
and who has joined as counts and initials only, never a fan's name."""

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse

from core.zones import in_zone
from fans.chat.referrals import referral_code_for
from preorders.models import Campaign, CampaignStatus, Pledge, PledgeStatus
from preorders.selectors import campaign_current_unit_price

# Pledges of people who joined (a cancelled, refunded or lapsed pledge no longer counts).
JOINED_STATUSES = (
    PledgeStatus.PENDING,
    PledgeStatus.ACTIVE,
    PledgeStatus.PAUSED,
    PledgeStatus.CONFIRMED,
    PledgeStatus.PAID,
)
MAX_INITIALS = 8


def _absolute(request: HttpRequest | None, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


def join_url(request: HttpRequest | None, campaign: Campaign) -> str:
    """The campaign's page, where a visitor joins."""
    return _absolute(request, reverse("campaign-fan", args=[campaign.pk]))


def share_url(request: HttpRequest | None, campaign: Campaign, ref: str | None = None) -> str:
    """The poster's link (the short join link), carrying the sharer's referral code when they have one."""
    path = reverse("campaign-join", args=[campaign.pk])
    return _absolute(request, f"{path}?{urlencode({'ref': ref})}" if ref else path)


def sharer_code(user: AbstractBaseUser | None, campaign: Campaign) -> str | None:
    return referral_code_for(user, campaign.shop_id) if user is not None else None


def pledgers(campaign: Campaign) -> dict[str, Any]:
    """How many people joined and their initials (first character of each display name), newest first."""
    fans = Pledge.objects.filter(campaign=campaign, status__in=JOINED_STATUSES).values("fan_id").distinct()
    names = list(
        Pledge.objects.filter(campaign=campaign, status__in=JOINED_STATUSES)
        .order_by("-created_at", "-pk")
        .values_list("fan_id", "fan__display_name")[: MAX_INITIALS * 4]
    )
    initials: list[str] = []
    seen: set[int] = set()
    for fan_id, name in names:
        if fan_id in seen:
            continue
        seen.add(fan_id)
        initials.append((name or "?").strip()[:1] or "?")
        if len(initials) == MAX_INITIALS:
            break
    return {"pledger_count": fans.count(), "pledger_initials": initials}


def campaign_showcase(shop: Any) -> list[dict[str, Any]]:
    """A shop's live campaigns for its public page (fans.chat.hooks.shop_showcase)."""
    campaigns = (
        Campaign.objects.filter(shop=shop, status=CampaignStatus.LIVE)
        .select_related("product", "shop")
        .prefetch_related("tiers")
        .order_by("deadline", "pk")[:20]
    )
    items = []
    for c in campaigns:
        target = c.target_quantity or 1
        items.append(
            {
                "kind": c.kind,
                "kind_label": c.get_kind_display(),
                "title": c.title,
                "product": c.product.name,
                "url": reverse("campaign-fan", args=[c.pk]),
                "image": c.product.image.url if c.product.image else "",
                "price": campaign_current_unit_price(c),
                "committed": c.committed_quantity,
                "target": c.target_quantity,
                "percent": min(100, round(100 * c.committed_quantity / target)),
                "deadline": in_zone(c.deadline, shop.timezone).strftime("%Y-%m-%d %H:%M"),
                **pledgers(c),
            }
        )
    return items
