"""What the forecast reads from the past, strictly before its as-of time (the bench replays with it)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from c2m.forecast.model import FanInput, History, dispersion
from fans.chat.models import Fan
from preorders.models import Campaign, CampaignStatus, Pledge, PledgeStatus

# A pledge that reached the campaign: anything but a deposit still in flight or a pledge the fan withdrew.
PLEDGED = ~Q(status__in=[PledgeStatus.PENDING, PledgeStatus.CANCELLED])
OTHER_SHOP_WEIGHT = 0.25  # other shops' pledges shape the variant shares a quarter as much as the shop's own
PLATFORM_CAMPAIGNS = 500
PLATFORM_PLEDGES = 5000
MIN_OWN_QUANTITIES = 20
DEFAULT_PLATFORM_RATE = 0.05
DEFAULT_PHI = 0.15

Matcher = Callable[[str], int | None]  # a past pledge's variant name -> the choice it counts for, or None


def _finished(as_of: dt.datetime) -> Q:
    """Campaigns whose pledging window closed before as_of: their joins are complete."""
    return Q(launched_at__isnull=False, deadline__lte=as_of) & ~Q(status=CampaignStatus.DRAFT)


def _reach() -> Subquery:
    fans = (
        Fan.objects.filter(shop_id=OuterRef("shop_id"), joined_at__lte=OuterRef("deadline"))
        .order_by()
        .values("shop_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(fans), 0)


def _platform(as_of: dt.datetime) -> tuple[float, float]:
    """The platform's join rate and campaign-to-campaign dispersion (the priors for a new shop)."""
    rows = list(
        Campaign.objects.filter(_finished(as_of))
        .order_by("-deadline")
        .annotate(
            reach=_reach(),
            joins=Count(
                "pledges__fan",
                filter=~Q(pledges__status__in=[PledgeStatus.PENDING, PledgeStatus.CANCELLED]),
                distinct=True,
            ),
        )
        .values_list("shop_id", "reach", "joins")[:PLATFORM_CAMPAIGNS]
    )
    reach = sum(r for _, r, _ in rows)
    rate = sum(j for _, _, j in rows) / reach if reach else DEFAULT_PLATFORM_RATE
    by_shop: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for shop_id, r, j in rows:
        if r:
            by_shop[shop_id].append((j / r, r))
    phis = [
        dispersion([x for x, _ in pairs], [n for _, n in pairs], prior=DEFAULT_PHI)
        for pairs in by_shop.values()
        if len(pairs) >= 3
    ]
    return (rate or DEFAULT_PLATFORM_RATE), (sum(phis) / len(phis) if phis else DEFAULT_PHI)


def history_gather(
    *,
    shop_id: int,
    as_of: dt.datetime,
    match: Matcher,
    scores: dict[int, float],
    exclude_campaign_id: int | None = None,
) -> tuple[list[FanInput], History]:
    """The shop's fans at as_of with their join records, and the shop's and platform's past."""
    past = list(
        Campaign.objects.filter(_finished(as_of), shop_id=shop_id)
        .exclude(pk=exclude_campaign_id)
        .order_by("deadline")
        .values_list("pk", "deadline")
    )
    past_ids = [pk for pk, _ in past]
    deadlines = [d for _, d in past]
    fans = list(
        Fan.objects.filter(shop_id=shop_id, joined_at__lte=as_of)
        .order_by("pk")
        .values_list("pk", "joined_at", "tag_ids")
    )
    joined_at = sorted(j for _, j, _ in fans)
    pledges = list(
        Pledge.objects.filter(PLEDGED, campaign_id__in=past_ids)
        .values_list("campaign_id", "fan_id", "variant_name", "quantity", "fan__tag_ids")
        .order_by("pk")
    )
    joins_by_campaign: dict[int, set[int]] = defaultdict(set)
    joins_by_fan: dict[int, set[int]] = defaultdict(set)
    for campaign_id, fan_id, *_ in pledges:
        joins_by_campaign[campaign_id].add(fan_id)
        joins_by_fan[fan_id].add(campaign_id)
    rates, reaches = [], []
    for pk, deadline in past:
        reach = bisect.bisect_right(joined_at, deadline)
        if reach:
            rates.append(len(joins_by_campaign[pk]) / reach)
            reaches.append(reach)
    platform_rate, platform_phi = _platform(as_of)
    history = History(
        shop_joins=sum(len(s) for s in joins_by_campaign.values()),
        shop_reach=sum(reaches),
        shop_rates=rates,
        shop_reaches=reaches,
        platform_rate=platform_rate,
        platform_phi=platform_phi,
    )
    history.quantities = [q for *_, q, _ in pledges]
    choice_pledges: list[tuple[tuple[int, ...], int, float]] = []
    for _, _, name, _, tags in pledges:
        choice = match(name)
        if choice is not None:
            choice_pledges.append((tuple(tags or ()), choice, 1.0))
    others = (
        Pledge.objects.filter(PLEDGED, campaign__in=Campaign.objects.filter(_finished(as_of)))
        .exclude(campaign__shop_id=shop_id)
        .order_by("-pk")
        .values_list("variant_name", "quantity", "fan__tag_ids")[:PLATFORM_PLEDGES]
    )
    other_quantities = []
    for name, quantity, tags in others:
        other_quantities.append(quantity)
        choice = match(name)
        if choice is not None:
            choice_pledges.append((tuple(tags or ()), choice, OTHER_SHOP_WEIGHT))
    if len(history.quantities) < MIN_OWN_QUANTITIES:
        history.quantities += other_quantities[: MIN_OWN_QUANTITIES * 10]
    history.choice_pledges = choice_pledges
    inputs = [
        FanInput(
            joins=len(joins_by_fan.get(pk, ())),
            exposures=len(deadlines) - bisect.bisect_left(deadlines, fan_joined),
            score=scores.get(pk),
            tags=tuple(tags or ()),
        )
        for pk, fan_joined, tags in fans
    ]
    return inputs, history


def name_matcher(names: Sequence[str]) -> Matcher:
    """A past pledge counts for the offered variant of the same name (variants are per product, names recur)."""
    index = {n.strip().casefold(): i for i, n in enumerate(names)}
    return lambda name: index.get((name or "").strip().casefold())


def options_matcher(combinations: Sequence[dict[str, str]]) -> Matcher:
    """A past pledge counts for the design combination all of whose options its variant name contains."""
    wanted = [[str(v).strip().casefold() for v in c.values() if str(v).strip()] for c in combinations]

    def match(name: str) -> int | None:
        text = (name or "").casefold()
        hits = [i for i, opts in enumerate(wanted) if opts and all(o in text for o in opts)]
        return hits[0] if len(hits) == 1 else None

    return match
