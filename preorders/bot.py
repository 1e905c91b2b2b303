"""The bot's campaign providers (fans.bot.hooks): /campaign drafts and answers to "还差多少".

Registered in PreordersConfig.ready(); the bot never imports preorders.
"""

from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from fans.chat.models import Fan
from preorders.models import Campaign, CampaignStatus, Pledge, PledgeStatus
from preorders.selectors import campaign_current_unit_price
from recommend.models import ProductTag
from recommend.serving import recommend_for_fan

HOLDING = (PledgeStatus.PENDING, PledgeStatus.ACTIVE, PledgeStatus.PAUSED, PledgeStatus.CONFIRMED)
RANKED_PRODUCTS = 50


def _live_campaigns(fan: Fan) -> list[Campaign]:
    return list(
        Campaign.objects.filter(shop_id=fan.shop_id, status=CampaignStatus.LIVE, deadline__gt=timezone.now())
        .select_related("product", "shop")
        .order_by("deadline", "pk")
    )


def campaign_drafts(fan: Fan, k: int) -> list[dict[str, Any]]:
    """/campaign: the shop's live campaigns the fan has not joined, best for this fan first.

    Order: the recommender's rank of the campaign's product for this fan, then how many of the fan's
    tags the product carries, then the nearest deadline. Campaigns the fan already holds a pledge in
    are left out: a card for them would be noise.
    """
    joined = set(
        Pledge.objects.filter(fan=fan, status__in=HOLDING).values_list("campaign_id", flat=True).distinct()
    )
    live = [c for c in _live_campaigns(fan) if c.pk not in joined]
    if not live:
        return []
    rank = {pick.product.pk: i for i, pick in enumerate(recommend_for_fan(fan, RANKED_PRODUCTS))}
    fan_tags = set(fan.tag_ids or [])
    matches: dict[int, list[int]] = {}
    if fan_tags:
        for product_id, tag_id in ProductTag.objects.filter(
            product_id__in=[c.product_id for c in live], tag_id__in=fan_tags
        ).values_list("product_id", "tag_id"):
            matches.setdefault(product_id, []).append(tag_id)
    live.sort(
        key=lambda c: (rank.get(c.product_id, len(rank)), -len(matches.get(c.product_id, [])), c.deadline)
    )
    return [
        {
            "kind": "campaign_card",
            "card": {"campaign": c.pk, "name": c.title},
            "reason": _reason(c, rank, matches),
        }
        for c in live[: max(1, k)]
    ]


def _reason(campaign: Campaign, rank: dict[int, int], matches: dict[int, list[int]]) -> str:
    if campaign.product_id in rank:
        return _("Among this fan's top recommendations.")
    if matches.get(campaign.product_id):
        return _("Matches %(n)d of this fan's tags.") % {"n": len(matches[campaign.product_id])}
    return _("Ends soonest among the shop's live campaigns.")


def campaign_progress_answer(fan: Fan, text: str) -> str | None:
    """How far the campaign the fan asks about is from its target: the one named in the question, else
    the one the fan joined, else the shop's only live one. None when it cannot tell which."""
    live = _live_campaigns(fan)
    if not live:
        return None
    named = [c for c in live if c.title and c.title.lower() in text.lower()]
    joined = set(
        Pledge.objects.filter(fan=fan, status__in=HOLDING, campaign__in=live).values_list(
            "campaign_id", flat=True
        )
    )
    mine = [c for c in live if c.pk in joined]
    chosen = named or mine or live
    if len(chosen) > 1 and not named:
        lines = [_progress_line(c) for c in chosen[:3]]
        return "\n".join(lines)
    return _progress_line(chosen[0])


def _progress_line(campaign: Campaign) -> str:
    price = campaign_current_unit_price(campaign)
    deadline = timezone.localtime(campaign.deadline, ZoneInfo(campaign.shop.timezone)).strftime("%m-%d %H:%M")
    values = {
        "title": campaign.title,
        "committed": campaign.committed_quantity,
        "target": campaign.target_quantity,
        "missing": max(campaign.target_quantity - campaign.committed_quantity, 0),
        "price": f"¥{price}",
        "deadline": deadline,
    }
    if values["missing"]:
        return (
            _(
                "“%(title)s”: %(committed)d pledged, %(missing)d more to reach %(target)d; price now %(price)s; "
                "closes %(deadline)s."
            )
            % values
        )
    return (
        _(
            "“%(title)s”: %(committed)d pledged, the target of %(target)d is reached; price now %(price)s; "
            "closes %(deadline)s."
        )
        % values
    )


def broadcast_campaign_choices(shop: Any) -> list[tuple[int, str]]:
    """The shop's live campaigns, soonest deadline first, for the broadcast form's campaign card."""
    return [
        (c.pk, c.title)
        for c in Campaign.objects.filter(shop=shop, status=CampaignStatus.LIVE, deadline__gt=timezone.now())
        .only("pk", "title")
        .order_by("deadline", "pk")[:100]
    ]
