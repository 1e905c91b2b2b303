"""Reads for the owner's campaign page: the funnel, the dunning list and the late-shipment risk.

Shipments and after-sales requests live in models that may not be installed yet (preorders.Shipment,
ShipmentItem, AfterSalesRequest): these reads find them through the app registry and follow their foreign
keys to the campaign, so the page works with them and without them (their steps then show "—").
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError
from django.db import models
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from preorders.models import Campaign, CampaignKind, CycleDelivery, DeliveryStatus, Pledge, PledgeStatus
from preorders.money import money_round
from preorders.statements import campaign_statement, statement_figures

# A pledge that stood at some point: everything but a deposit in flight and a cancel before the deadline.
PLEDGED_EXCLUDED = (PledgeStatus.PENDING, PledgeStatus.CANCELLED)


def optional_model(name: str) -> type[models.Model] | None:
    try:
        return apps.get_model("preorders", name)
    except LookupError:
        return None


def _forward_fks(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.get_fields() if f.concrete and (f.many_to_one or f.one_to_one)]


def lookup_path(model: type[models.Model], target: type[models.Model], depth: int = 3) -> str | None:
    """The ORM path from `model` to `target` over forward foreign keys ("pledge__campaign"), or None."""
    fks = _forward_fks(model)
    for f in fks:
        if f.related_model is target:
            return f.name
    if depth > 1:
        for f in fks:
            if f.related_model is not None and f.related_model is not model:
                sub = lookup_path(f.related_model, target, depth - 1)
                if sub:
                    return f"{f.name}__{sub}"
    return None


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - FieldDoesNotExist: the other branch's model has no such field
        return False
    return True


def _units(qs: QuerySet, model: type[models.Model], prefix: str = "") -> int:
    if _has_field(model, "quantity"):
        return qs.aggregate(n=Sum(f"{prefix}quantity"))["n"] or 0
    return qs.count()


def shipment_items(campaign: Campaign) -> tuple[QuerySet, type[models.Model]] | None:
    """The campaign's shipped items (a queryset of ShipmentItem), or None without shipment models."""
    item = optional_model("ShipmentItem")
    if item is None:
        return None
    path = lookup_path(item, Campaign)
    if path is None:
        return None
    qs = item.objects.filter(**{path: campaign})
    shipment = optional_model("Shipment")
    to_shipment = lookup_path(item, shipment, depth=1) if shipment is not None else None
    if to_shipment and _has_field(shipment, "shipped_at"):
        qs = qs.filter(**{f"{to_shipment}__shipped_at__isnull": False})
    return qs, item


def _delivered_units(campaign: Campaign, items: QuerySet, item: type[models.Model]) -> int | None:
    shipment = optional_model("Shipment")
    to_shipment = lookup_path(item, shipment, depth=1) if shipment is not None else None
    if to_shipment is None:
        return None
    if _has_field(shipment, "delivered_at"):
        return _units(items.filter(**{f"{to_shipment}__delivered_at__isnull": False}), item)
    if _has_field(shipment, "status"):
        return _units(items.filter(**{f"{to_shipment}__status": "delivered"}), item)
    return None


def _after_sales(campaign: Campaign) -> int | None:
    request = optional_model("AfterSalesRequest")
    if request is None:
        return None
    path = lookup_path(request, Campaign)
    if path is None:
        return None
    return request.objects.filter(**{path: campaign}).count()


def campaign_funnel(campaign: Campaign) -> list[dict[str, Any]]:
    """Units at each step: pledged → paid balance → lapsed → shipped → delivered → after-sales.

    A step whose model is not installed has value None. `percent` is relative to the pledged units.
    """
    pledges = Pledge.objects.filter(campaign=campaign).exclude(status__in=PLEDGED_EXCLUDED)
    pledged = pledges.aggregate(n=Sum("quantity"))["n"] or 0
    if campaign.kind == CampaignKind.SUBSCRIPTION:
        boxes = dict(
            CycleDelivery.objects.filter(pledge__campaign=campaign)
            .values("status")
            .annotate(n=Sum("quantity"))
            .order_by()
            .values_list("status", "n")
        )
        paid, lapsed = boxes.get(DeliveryStatus.CHARGED, 0), boxes.get(DeliveryStatus.SKIPPED, 0)
    else:
        by_status = dict(
            pledges.values("status").annotate(n=Sum("quantity")).order_by().values_list("status", "n")
        )
        paid, lapsed = by_status.get(PledgeStatus.PAID, 0), by_status.get(PledgeStatus.LAPSED, 0)
    shipped = delivered = None
    try:
        found = shipment_items(campaign)
        if found is not None:
            items, item = found
            shipped = _units(items, item)
            delivered = _delivered_units(campaign, items, item)
        after_sales = _after_sales(campaign)
    except FieldError:  # a shape these reads do not know: the steps show "—" rather than break the page
        shipped = delivered = after_sales = None
    steps = [
        ("pledged", _("Pledged"), pledged),
        ("paid", _("Paid boxes") if campaign.kind == CampaignKind.SUBSCRIPTION else _("Paid balance"), paid),
        ("lapsed", _("Skipped") if campaign.kind == CampaignKind.SUBSCRIPTION else _("Lapsed"), lapsed),
        ("shipped", _("Shipped"), shipped),
        ("delivered", _("Delivered"), delivered),
        ("after_sales", _("After-sales"), after_sales),
    ]
    top = max([pledged] + [v for _k, _l, v in steps if v is not None]) or 1
    return [
        {
            "key": key,
            "label": label,
            "value": value,
            "percent": None if value is None else round(100 * value / top),
        }
        for key, label, value in steps
    ]


def dunning_list(campaign: Campaign, limit: int = 200) -> QuerySet[CycleDelivery]:
    """Boxes whose charge failed and will be retried, next retry first (the fan pays now in their chat)."""
    return (
        CycleDelivery.objects.filter(pledge__campaign=campaign, status=DeliveryStatus.DUNNING)
        .select_related("pledge__fan", "cycle")
        .order_by("next_attempt_at", "pk")[:limit]
    )


def late_risk(campaign: Campaign, *, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Paid units not shipped yet, by SKU, and the time left to ship_by (None without a ship-by date).

    The shape preorders.selectors.late_risk answers too, when installed: ship_by, seconds_left, overdue,
    units_unshipped, by_sku [{sku, units}], compensation_percent, compensation_exposure.
    """
    if campaign.kind != CampaignKind.GROUP or campaign.ship_by is None:
        return None
    now = now or timezone.now()
    paid = dict(
        Pledge.objects.filter(campaign=campaign, status=PledgeStatus.PAID)
        .values("sku")
        .annotate(n=Sum("quantity"))
        .order_by()
        .values_list("sku", "n")
    )
    shipped: dict[str, int] = {}
    try:
        found = shipment_items(campaign)
        if found is not None:
            items, item = found
            to_pledge = lookup_path(item, Pledge)
            if to_pledge and _has_field(item, "quantity"):
                shipped = dict(
                    items.values(f"{to_pledge}__sku")
                    .annotate(n=Sum("quantity"))
                    .order_by()
                    .values_list(f"{to_pledge}__sku", "n")
                )
            elif to_pledge:
                shipped = dict(
                    items.values(f"{to_pledge}__sku")
                    .annotate(n=Count("pk"))
                    .order_by()
                    .values_list(f"{to_pledge}__sku", "n")
                )
    except FieldError:
        shipped = {}
    by_sku = [
        {"sku": sku, "units": max(0, units - shipped.get(sku, 0))}
        for sku, units in sorted(paid.items())
        if units - shipped.get(sku, 0) > 0
    ]
    unshipped = sum(r["units"] for r in by_sku)
    left = (campaign.ship_by - now).total_seconds()
    price = campaign.final_unit_price or campaign.base_unit_price
    return {
        "ship_by": campaign.ship_by,
        "seconds_left": int(left),
        "overdue": left <= 0,
        "units_unshipped": unshipped,
        "by_sku": by_sku,
        "compensation_percent": campaign.late_compensation_percent,
        "compensation_exposure": money_round(
            Decimal(unshipped) * price * campaign.late_compensation_percent / 100
        ),
    }


def campaign_late_risk(campaign: Campaign) -> dict[str, Any] | None:
    """preorders.selectors.late_risk when another part of the app provides it, else late_risk above."""
    from preorders import selectors

    provided = getattr(selectors, "late_risk", None)
    return provided(campaign) if provided is not None else late_risk(campaign)


def _waitlist_units(campaign: Campaign) -> int:
    from preorders.services.waitlist import waitlist_summary

    return waitlist_summary(campaign)["waiting_units"]


def owner_panels(campaign: Campaign, *, can_manage: bool) -> dict[str, Any]:
    """The owner views on the campaign page: funnel, dunning, late-shipment risk, MOQ shortfall and the
    settlement summary (money for the owner and managers only)."""
    shortfall = []
    if campaign.moq_shortfall and not campaign.moq_decision:
        shortfall = [
            {"sku": sku, "paid": row["paid"], "moq": row["moq"], "short": row["moq"] - row["paid"]}
            for sku, row in sorted(campaign.moq_shortfall.items())
        ]
    panels: dict[str, Any] = {
        "funnel": campaign_funnel(campaign),
        "dunning": list(dunning_list(campaign)) if campaign.kind == CampaignKind.SUBSCRIPTION else None,
        "late_risk": campaign_late_risk(campaign),
        "moq_shortfall": shortfall,
        "waitlist_units": _waitlist_units(campaign) if shortfall else 0,
        "statement": None,
    }
    if can_manage:
        panels["statement"] = statement = campaign_statement(campaign)
        panels["figures"] = statement_figures(statement)
    return panels
