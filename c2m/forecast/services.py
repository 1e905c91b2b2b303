"""The forecast before launch (AQ 预判): per-variant pledged units with an 80% interval, the snapshot taken
at launch, and the same forecast for a design round's combinations. docs/forecast.md explains the model."""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from c2m.forecast import model
from c2m.forecast.history import PLEDGED, history_gather, name_matcher, options_matcher
from c2m.forecast.models import CampaignForecast
from preorders.models import Campaign, CampaignStatus, Pledge
from preorders.selectors import campaign_variants_offered
from shops.models import Product, Shop

logger = logging.getLogger(__name__)

MAX_SCORED_FANS = 1000  # fans_for_product's own ceiling
SNAPSHOT_BATCH = 50


def _scores(product: Product) -> dict[int, float]:
    """The recommender's "fans most likely to join" scores for the product, by fan id."""
    from recommend.serving.product_fans import fans_for_product

    try:
        picks = fans_for_product(product, k=MAX_SCORED_FANS)
    except Exception:  # noqa: BLE001 - a broken model must not take the forecast down: it only shapes the lift
        logger.exception("forecast: fans_for_product failed for product %s", product.pk)
        return {}
    return {p.fan.pk: p.score for p in picks}


def _choice_out(f: model.ChoiceForecast) -> dict[str, Any]:
    return {"expected": f.expected, "low": f.low, "high": f.high}


def _inputs_out(fans: list[model.FanInput], history: model.History, *, scored: int) -> dict[str, Any]:
    return {
        "fans": len(fans),
        "scored_fans": scored,
        "past_campaigns": len(history.shop_rates),
        "join_rate": round(model.shop_join_rate(history), 4),
        "platform_join_rate": round(history.platform_rate, 4),
        "mean_quantity": round(sum(history.quantities) / len(history.quantities), 2)
        if history.quantities
        else 1.0,
        "tagged_pledges": len(history.choice_pledges),
    }


def campaign_forecast(campaign: Campaign, *, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """The forecast for a campaign's offered variants from data before `as_of` (default: now, or its
    launch once launched), with the recommender's current scores. Read-only."""
    if as_of is None:
        as_of = campaign.launched_at or timezone.now()
    variants = list(campaign_variants_offered(campaign).order_by("pk"))
    scores = _scores(campaign.product)
    fans, history = history_gather(
        shop_id=campaign.shop_id,
        as_of=as_of,
        match=name_matcher([v.name for v in variants]),
        scores=scores,
        exclude_campaign_id=campaign.pk,
    )
    per_variant, total = model.forecast(fans, history, len(variants), seed=campaign.pk)
    return {
        "variants": [
            {"variant": v.pk, "name": v.name, "sku": v.sku, **_choice_out(f)}
            for v, f in zip(variants, per_variant, strict=True)
        ],
        "total": _choice_out(total),
        "inputs": _inputs_out(fans, history, scored=sum(1 for f in fans if f.score is not None)),
        "as_of": as_of.isoformat(),
    }


def forecast_combinations(
    *,
    shop: Shop,
    product: Product,
    combinations: list[dict[str, str]],
    as_of: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The same forecast for a design round's option combinations before it launches: one
    {"combination", "expected", "low", "high"} per combination, in order. Past pledges count for a
    combination when their variant name contains all of its options."""
    if not combinations:
        return []
    as_of = as_of or timezone.now()
    fans, history = history_gather(
        shop_id=shop.pk, as_of=as_of, match=options_matcher(combinations), scores=_scores(product)
    )
    per_choice, _ = model.forecast(
        fans, history, len(combinations), seed=zlib.crc32(f"{product.pk}".encode())
    )
    return [{"combination": c, **_choice_out(f)} for c, f in zip(combinations, per_choice, strict=True)]


def campaign_actuals(campaign: Campaign) -> dict[int, int]:
    """Pledged units by variant id (what the forecast predicts: deposits that went through)."""
    rows = (
        Pledge.objects.filter(PLEDGED, campaign=campaign)
        .values("variant_id")
        .annotate(units=Sum("quantity"))
        .values_list("variant_id", "units")
    )
    return {v: int(u or 0) for v, u in rows}


def campaign_is_closed(campaign: Campaign) -> bool:
    return (
        campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.LIVE)
        or campaign.deadline <= timezone.now()
    )


def campaign_forecast_view(campaign: Campaign) -> dict[str, Any]:
    """What the API and the campaign page show: the launch snapshot once there is one (else the live
    forecast), and after the close each variant's actual units next to it."""
    snapshot = CampaignForecast.objects.filter(campaign=campaign).first()
    if snapshot is not None:
        body = {
            "variants": [dict(v) for v in snapshot.variants],
            "total": dict(snapshot.total),
            "inputs": dict(snapshot.inputs),
            "as_of": snapshot.as_of.isoformat(),
        }
    else:
        body = campaign_forecast(campaign)
    body["snapshot"] = snapshot is not None
    body["closed"] = campaign.status != CampaignStatus.DRAFT and campaign_is_closed(campaign)
    if body["closed"]:
        actual = campaign_actuals(campaign)
        for row in body["variants"]:
            row["actual"] = actual.get(row["variant"], 0)
        body["total"]["actual"] = sum(actual.values())
    return body


def campaign_forecast_snapshot(*, campaign_id: int) -> CampaignForecast | None:
    """Freeze the launch forecast of a launched campaign, once: safe to run twice or concurrently."""
    campaign = (
        Campaign.objects.select_related("shop", "product")
        .filter(pk=campaign_id, launched_at__isnull=False)
        .first()
    )
    if campaign is None:
        return None
    existing = CampaignForecast.objects.filter(campaign=campaign).first()
    if existing is not None:
        return existing
    body = campaign_forecast(campaign, as_of=campaign.launched_at)
    try:
        with transaction.atomic():
            return CampaignForecast.objects.create(
                campaign=campaign,
                as_of=campaign.launched_at,
                variants=body["variants"],
                total=body["total"],
                inputs=body["inputs"],
            )
    except IntegrityError:  # another worker froze it first; theirs stands
        return CampaignForecast.objects.get(campaign=campaign)


def forecasts_snapshot_due() -> int:
    """Snapshot every live campaign that has none yet (beat, every minute). Returns how many were made."""
    due = list(
        Campaign.objects.filter(status=CampaignStatus.LIVE, launched_at__isnull=False)
        .exclude(pk__in=CampaignForecast.objects.values("campaign_id"))
        .order_by("launched_at", "pk")
        .values_list("pk", flat=True)[:SNAPSHOT_BATCH]
    )
    made = 0
    for pk in due:
        if campaign_forecast_snapshot(campaign_id=pk) is not None:
            made += 1
    return made
