"""Deciding a round at its deadline: winners become campaigns with their voters pre-pledged; the rest refunded."""

import datetime as dt
import logging
from collections import Counter

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from c2m.design import rules
from c2m.design.models import (
    DesignPrePledge,
    DesignRound,
    DesignVote,
    DesignWinner,
    RoundStatus,
    VoteStatus,
)
from c2m.design.services.constants import (
    BALANCE_AFTER,
    CONFIRM_WINDOW,
    PENDING_GRACE,
)
from c2m.design.services.votes import vote_refund
from preorders.models import Campaign, CampaignStatus
from preorders.services.campaigns import campaign_create, campaign_launch
from shops.models import Variant

logger = logging.getLogger(__name__)


# --- deciding ----------------------------------------------------------------------------------------------


def tally(rnd: DesignRound) -> Counter[str]:
    """Paid votes per combination key: held, counted toward a pledge, or refunded after the count."""
    rows = (
        DesignVote.objects.filter(
            round=rnd, status__in=(VoteStatus.HELD, VoteStatus.CONVERTED, VoteStatus.REFUNDED)
        )
        .values("combination_key")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return Counter({r["combination_key"]: r["n"] for r in rows})


def _variant_for(rnd: DesignRound, winner: DesignWinner) -> Variant:
    """The product's variant whose name holds every option of the combination, or a new one."""
    options = [winner.combination[a] for a in rnd.ordered_attributes if a in winner.combination]
    for variant in rnd.product.variants.order_by("pk"):
        if all(o.lower() in variant.name.lower() for o in options):
            return variant
    return Variant.objects.create(
        product=rnd.product,
        name=" / ".join(options)[:100],
        sku=f"DR{rnd.pk}-{winner.pk}",
        price=rnd.product.price,
    )


def _winner_campaign(rnd: DesignRound, winner: DesignWinner, now: dt.datetime) -> None:
    """The winner's group campaign, once (the winner row is locked and set in the same transaction)."""
    with transaction.atomic(durable=True):
        winner = DesignWinner.objects.select_for_update().get(pk=winner.pk)
        if winner.campaign_id is not None:
            return
        variant = winner.variant or _variant_for(rnd, winner)
        deadline = now + dt.timedelta(days=rnd.campaign_days)
        moq = rnd.product.factory_product.moq if rnd.product.factory_product_id else 1
        label = rules.combination_label(winner.combination, rnd.ordered_attributes)
        campaign = campaign_create(
            user=rnd.shop.owner,
            kind="group",
            product_id=rnd.product_id,
            title=f"{rnd.title} · {label}"[:200],
            target_quantity=max(rnd.target_per_combination, moq),
            deadline=deadline,
            deposit_percent=rnd.campaign_deposit_percent,
            balance_deadline=deadline + BALANCE_AFTER if rnd.campaign_deposit_percent < 100 else None,
            variants=[variant.pk],
        )
        DesignWinner.objects.filter(pk=winner.pk).update(campaign=campaign, variant=variant)


def round_decide(*, round_id: int, now: dt.datetime | None = None) -> bool:
    """At the deadline: count, make the winners' campaigns, pre-pledge their voters, refund the rest.
    Safe to rerun from any point (state guard on the round, unique winner and pre-pledge rows)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        rnd = (
            DesignRound.objects.select_for_update()
            .select_related("shop", "product")
            .filter(pk=round_id)
            .first()
        )
        if rnd is None:
            return False
        if rnd.status == RoundStatus.LIVE:
            if rnd.deadline > now:
                return False
            if DesignVote.objects.filter(
                round=rnd, status=VoteStatus.PENDING, created_at__gt=now - PENDING_GRACE
            ).exists():
                return False  # a deposit's answer is still on its way: count it next minute
            counts = tally(rnd)
            by_key = {rules.combination_key(c): c for c in rules.combinations(rnd.ordered_attributes)}
            DesignWinner.objects.bulk_create(
                [
                    DesignWinner(round=rnd, combination=by_key[k], combination_key=k, votes=n)
                    for k, n in counts.items()
                    if n >= rnd.target_per_combination and k in by_key
                ],
                ignore_conflicts=True,
            )
            rnd.status = RoundStatus.DECIDING
            DesignRound.objects.filter(pk=rnd.pk).update(status=RoundStatus.DECIDING, decided_at=now)
        elif rnd.status != RoundStatus.DECIDING:
            return False
    decided_at = DesignRound.objects.values_list("decided_at", flat=True).get(pk=rnd.pk) or now
    for winner in rnd.winners.filter(campaign__isnull=True).order_by("pk"):
        _winner_campaign(rnd, winner, decided_at)
    for campaign in Campaign.objects.filter(design_winner__round=rnd, status=CampaignStatus.DRAFT):
        campaign_launch(user=rnd.shop.owner, campaign_id=campaign.pk)
    with transaction.atomic(durable=True):
        if (
            not DesignRound.objects.select_for_update()
            .filter(pk=rnd.pk, status=RoundStatus.DECIDING)
            .exists()
        ):
            return False
        pre = []
        for winner in rnd.winners.select_related("campaign"):
            for vote_id in DesignVote.objects.filter(
                round=rnd, status=VoteStatus.HELD, combination_key=winner.combination_key
            ).values_list("pk", flat=True):
                pre.append(
                    DesignPrePledge(
                        vote_id=vote_id,
                        winner=winner,
                        campaign=winner.campaign,
                        expires_at=decided_at + CONFIRM_WINDOW,
                    )
                )
        DesignPrePledge.objects.bulk_create(pre, ignore_conflicts=True)
        DesignRound.objects.filter(pk=rnd.pk).update(status=RoundStatus.DECIDED)
    votes_refund_unplaced(round_id=rnd.pk)
    return True


def votes_refund_unplaced(*, round_id: int | None = None, limit: int = 2000) -> int:
    """Refund held votes of decided (or cancelled) rounds that have no pre-pledge: the losers, and late
    deposits that settled after the count. Reruns find nothing left."""
    qs = DesignVote.objects.filter(
        status=VoteStatus.HELD,
        round__status__in=(RoundStatus.DECIDED, RoundStatus.CANCELLED),
        pre_pledge__isnull=True,
    )
    if round_id is not None:
        qs = qs.filter(round_id=round_id)
    done = 0
    for vote in qs.order_by("pk")[:limit]:
        done += vote_refund(vote, memo="design round: not chosen")
    return done


def rounds_decide_due(*, now: dt.datetime | None = None) -> int:
    """Beat: every live round past its deadline, and every round a killed worker left half-decided."""
    now = now or timezone.now()
    ids = list(
        DesignRound.objects.filter(status=RoundStatus.LIVE, deadline__lte=now).values_list("pk", flat=True)[
            :200
        ]
    ) + list(DesignRound.objects.filter(status=RoundStatus.DECIDING).values_list("pk", flat=True)[:200])
    decided = 0
    for pk in ids:
        try:
            decided += round_decide(round_id=pk, now=now)
        except Exception:  # one bad round must not hold the others back; it is retried next minute
            logger.exception("design round %s: deciding failed", pk)
    votes_refund_unplaced()
    return decided
