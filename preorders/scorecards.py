"""工厂优选: factory scorecards computed from what happened, set-based (one grouped query per measure).

- on-time ship rate: paid pledges of campaigns with a ship_by that are due (ship_by passed, or shipped),
  against those with a live parcel shipped by that ship_by;
- late-shipment compensations (慢就赔) paid out: count and amount;
- after-sales refund rate: delivered pledges with an approved after-sales request;
- fulfilled factory orders: shipped or delivered;
- review star average: the fans' reviews of the factory's products (preorders.review_models);
- 红黑榜 score: the factory's RatingScore (shops.rating_models).

`score` ranks factories; small numbers are pulled toward a prior so one lucky order does not top the list.
"""

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from preorders.fulfilment_models import AfterSalesStatus, ShipmentStatus
from preorders.models import (
    AfterSalesRequest,
    Credit,
    CreditKind,
    FactoryOrder,
    FactoryOrderStatus,
    FactoryScorecard,
    Pledge,
    PledgeStatus,
    ShipmentItem,
)
from shops.models import Factory

FACTORY = "campaign__factory_product__factory_id"
PRIOR_WEIGHT = 5  # pseudo-observations
PRIOR_ON_TIME = 0.8
PRIOR_REFUND = 0.05


def _on_time(now) -> dict[int, tuple[int, int]]:  # noqa: ANN001
    live = ShipmentItem.objects.filter(pledge_id=OuterRef("pk"), lost=False)
    rows = (
        Pledge.objects.filter(
            status=PledgeStatus.PAID, campaign__ship_by__isnull=False, campaign__factory_product__isnull=False
        )
        .annotate(
            shipped=Exists(live),
            on_time=Exists(live.filter(shipment__shipped_at__lte=OuterRef("campaign__ship_by"))),
        )
        .filter(Q(campaign__ship_by__lte=now) | Q(shipped=True))
        .values(fid=F(FACTORY))
        .annotate(due=Count("pk"), ok=Count("pk", filter=Q(on_time=True)))
        .order_by()
    )
    return {r["fid"]: (r["due"], r["ok"]) for r in rows}


def _late_compensations() -> dict[int, tuple[int, Decimal]]:
    rows = (
        Credit.objects.filter(kind=CreditKind.LATE_COMPENSATION, paid_out=True)
        .values(fid=F(f"pledge__{FACTORY}"))
        .annotate(n=Count("pk"), amount=Sum("amount"))
        .order_by()
    )
    return {r["fid"]: (r["n"], r["amount"]) for r in rows if r["fid"] is not None}


def _refunds() -> dict[int, tuple[int, int]]:
    delivered = ShipmentItem.objects.filter(
        pledge_id=OuterRef("pk"), lost=False, shipment__status=ShipmentStatus.DELIVERED
    )
    refunded = AfterSalesRequest.objects.filter(pledge_id=OuterRef("pk"), status=AfterSalesStatus.APPROVED)
    rows = (
        Pledge.objects.filter(campaign__factory_product__isnull=False)
        .annotate(delivered=Exists(delivered), refunded=Exists(refunded))
        .filter(delivered=True)
        .values(fid=F(FACTORY))
        .annotate(n=Count("pk"), refunds=Count("pk", filter=Q(refunded=True)))
        .order_by()
    )
    return {r["fid"]: (r["n"], r["refunds"]) for r in rows}


def _fulfilled() -> dict[int, int]:
    rows = (
        FactoryOrder.objects.filter(status__in=[FactoryOrderStatus.SHIPPED, FactoryOrderStatus.DELIVERED])
        .values(fid=F("factory_product__factory_id"))
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {r["fid"]: r["n"] for r in rows}


def _reviews_avg(factory_ids: list[int]) -> dict[int, float]:
    """The star average of the fans' reviews of every shop product made by each factory (hidden ones left
    out), in one grouped query."""
    from django.db.models import Avg

    from preorders.review_models import Review

    rows = (
        Review.objects.filter(hidden=False, product__factory_product__factory_id__in=factory_ids)
        .values_list("product__factory_product__factory_id")
        .annotate(avg=Avg("stars"))
    )
    return {fid: round(float(avg), 2) for fid, avg in rows}


def _rating_scores(factory_ids: list[int]) -> dict[int, float]:
    """Each factory's 红黑榜 score (0..1, the Wilson lower bound on the weighted red share), for factories that
    shops have rated (shops.RatingScore, refreshed after every rating)."""
    from shops.models import RatingScore
    from shops.rating_models import EntityType

    rows = RatingScore.objects.filter(
        Q(red__gt=0) | Q(black__gt=0),
        entity_type=EntityType.FACTORY,
        entity_id__in=[str(f) for f in factory_ids],
    ).values_list("entity_id", "score")
    return {int(entity_id): round(score, 4) for entity_id, score in rows}


def _smoothed(hits: int, n: int, prior: float) -> float:
    return (hits + prior * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)


def composite_score(card: FactoryScorecard) -> float:
    """Higher is better: on time, few refunds, red, well reviewed, and proven by fulfilled orders."""
    on_time = _smoothed(card.on_time_units, card.due_units, PRIOR_ON_TIME)
    refund = _smoothed(card.refunded_pledges, card.delivered_pledges, PRIOR_REFUND)
    rating = card.rating_score if card.rating_score is not None else 0.5
    reviews = (card.reviews_avg - 1) / 4 if card.reviews_avg is not None else 0.5
    proven = min(1.0, math.log1p(card.fulfilled_orders) / math.log1p(20))
    return round(0.35 * on_time + 0.25 * (1 - refund) + 0.2 * rating + 0.1 * reviews + 0.1 * proven, 6)


def scorecards_recompute(factory_ids: Iterable[int] | None = None) -> int:
    """Rewrite the scorecards (all factories, or some); the number written."""
    now = timezone.now()
    ids = list(factory_ids) if factory_ids is not None else list(Factory.objects.values_list("pk", flat=True))
    on_time, late, refunds, fulfilled = _on_time(now), _late_compensations(), _refunds(), _fulfilled()
    reviews, ratings = _reviews_avg(ids), _rating_scores(ids)
    cards = []
    for fid in ids:
        due, ok = on_time.get(fid, (0, 0))
        n_late, late_amount = late.get(fid, (0, Decimal(0)))
        delivered, refunded = refunds.get(fid, (0, 0))
        card = FactoryScorecard(
            factory_id=fid,
            due_units=due,
            on_time_units=ok,
            on_time_rate=ok / due if due else None,
            late_compensations=n_late,
            late_compensation_amount=late_amount,
            delivered_pledges=delivered,
            refunded_pledges=refunded,
            refund_rate=refunded / delivered if delivered else None,
            fulfilled_orders=fulfilled.get(fid, 0),
            reviews_avg=reviews.get(fid),
            rating_score=ratings.get(fid),
            computed_at=now,
        )
        card.score = composite_score(card)
        cards.append(card)
    fields = [f.name for f in FactoryScorecard._meta.concrete_fields if f.name not in ("id", "factory")]
    FactoryScorecard.objects.bulk_create(
        cards, update_conflicts=True, unique_fields=["factory"], update_fields=fields, batch_size=1000
    )
    return len(cards)


def _pct(rate: float) -> str:
    return f"{round(rate * 100)}%"


def scorecard_reasons(card: FactoryScorecard | None) -> list[str]:
    """Why a factory ranks where it does, in words (e.g. 准时发货率 96%)."""
    if card is None:
        return [_("No history yet")]
    reasons: list[str] = []
    if card.on_time_rate is not None:
        reasons.append(_("On-time shipping %(rate)s") % {"rate": _pct(card.on_time_rate)})
    if card.refund_rate is not None:
        reasons.append(_("Refund rate %(rate)s") % {"rate": _pct(card.refund_rate)})
    if card.late_compensations:
        reasons.append(
            _("Late-shipment compensations: %(n)s (¥%(amount)s)")
            % {"n": card.late_compensations, "amount": card.late_compensation_amount}
        )
    if card.rating_score is not None:
        reasons.append(_("Red/black list score %(score)s") % {"score": f"{card.rating_score:.2f}"})
    if card.reviews_avg is not None:
        reasons.append(_("Reviews %(stars)s★") % {"stars": f"{card.reviews_avg:.1f}"})
    reasons.append(_("Fulfilled factory orders: %(n)s") % {"n": card.fulfilled_orders})
    return reasons


def ranked_factories(category: str | None) -> list[tuple[Factory, FactoryScorecard | None]]:
    """Factories of a category (or all), best scorecard first; those with none yet last."""
    qs = Factory.objects.select_related("scorecard")
    if category:
        qs = qs.filter(category=category)
    qs = qs.order_by(F("scorecard__score").desc(nulls_last=True), "name", "pk")
    out: list[tuple[Factory, Any]] = []
    for factory in qs[:200]:
        out.append((factory, getattr(factory, "scorecard", None)))
    return out


def candidate_factories(category: str, limit: int = 5) -> list[dict[str, Any]]:
    """The best few factories for a category, for the new-campaign page's read-only panel."""
    return [
        {"factory": factory, "card": card, "reasons": scorecard_reasons(card)}
        for factory, card in ranked_factories(category)[:limit]
    ]
