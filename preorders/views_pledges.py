"""The fan's own pages: my pledges (change, skip, pause, cancel, with what each costs) and my orders.

Server-rendered shells; static/fansi/pledges.js changes a pledge in place through the pledge API. Times are
the shop's (each card in its shop's time zone), words are per kind and status (preorders.pledge_copy).
"""

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from preorders import selectors
from preorders.box_models import BoxItem, CycleChange, CycleChangeKind
from preorders.box_selectors import box_choices_get, is_off_week
from preorders.fulfilment_models import AfterSalesKind, AfterSalesStatus, ShipmentStatus
from preorders.models import (
    HOLDING_STATUSES,
    CampaignKind,
    CampaignStatus,
    CycleStatus,
    DeliveryStatus,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
    SubscriptionSkip,
)
from preorders.pledge_copy import BOX, pledge_kind, pledge_status_label, status_labels
from preorders.services.change_quote import max_quantity, quantity_bounds
from preorders.services.subscriptions import delivery_at
from shops.models import Variant


def _next_open_cycles(campaign_ids: set[int]) -> dict[int, SubscriptionCycle]:
    """Each subscription's next cycle still open for changes (its cut-off ahead)."""
    found: dict[int, SubscriptionCycle] = {}
    for cycle in SubscriptionCycle.objects.filter(
        campaign_id__in=campaign_ids, status=CycleStatus.OPEN, cutoff_at__gt=timezone.now()
    ).order_by("campaign_id", "number"):
        found.setdefault(cycle.campaign_id, cycle)
    return found


def _subscription_rows(pledge: Pledge, next_cycle: SubscriptionCycle | None, *, box: bool) -> dict[str, Any]:
    """Skipped boxes (kept across reloads: they are stored) and the fan's next delivery: past skips and, for
    a fruit box, biweekly off-weeks, with the next box's delay."""
    skips = list(pledge.skips.all())
    skipped_numbers = {s.cycle.number for s in skips}
    next_delivery = None
    campaign = pledge.campaign
    if pledge.status == PledgeStatus.ACTIVE and campaign.status == CampaignStatus.LIVE and next_cycle:
        choices = box_choices_get(pledge.pk) if box else None
        number = next_cycle.number
        while number in skipped_numbers or (choices is not None and is_off_week(choices, number)):
            number += 1
        if campaign.cycles is None or number <= campaign.cycles:
            next_delivery = (
                next_cycle.delivery_at if number == next_cycle.number else delivery_at(campaign, number)
            )
            if box and number == next_cycle.number:
                delay = CycleChange.objects.filter(
                    pledge=pledge, cycle=next_cycle, kind=CycleChangeKind.DELAY
                ).first()
                if delay is not None and delay.delay_days:
                    next_delivery += dt.timedelta(days=delay.delay_days)
    return {
        "skips": [{"number": s.cycle.number, "delivery_at": s.cycle.delivery_at} for s in skips],
        "next_delivery": next_delivery,
    }


@login_required
def my_pledges(request: HttpRequest) -> HttpResponse:
    has_box = Exists(BoxItem.objects.filter(campaign_id=OuterRef("campaign_id")))
    pledges = list(
        selectors.pledge_list_for_user(user=request.user)
        .select_related("campaign__shop", "campaign__product")
        .annotate(has_box=has_box)
        .prefetch_related(
            Prefetch(
                "skips",
                queryset=SubscriptionSkip.objects.select_related("cycle").order_by("cycle__number"),
            )
        )[:200]
    )
    now = timezone.now()
    subscriptions = {p.campaign_id for p in pledges if p.campaign.kind == CampaignKind.SUBSCRIPTION}
    next_cycles = _next_open_cycles(subscriptions)
    changeable = [p for p in pledges if p.status == PledgeStatus.ACTIVE and _is_open(p, now)]
    # What each fan holds per campaign, for the change dialog's bound (one query for the page).
    held: dict[tuple[int, int], int] = {}
    for campaign_id, fan_id, quantity in Pledge.objects.filter(
        user=request.user, campaign_id__in={p.campaign_id for p in changeable}, status__in=HOLDING_STATUSES
    ).values_list("campaign_id", "fan_id", "quantity"):
        held[(campaign_id, fan_id)] = held.get((campaign_id, fan_id), 0) + quantity
    variants: dict[int, list[Variant]] = {}
    for v in Variant.objects.filter(
        product_id__in={p.campaign.product_id for p in changeable}, is_available=True
    ).order_by("pk"):
        variants.setdefault(v.product_id, []).append(v)
    rows = []
    for p in pledges:
        c = p.campaign
        kind = pledge_kind(c.kind, has_box=p.has_box)
        is_open = _is_open(p, now)
        row: dict[str, Any] = {
            "pledge": p,
            "campaign": c,
            "kind": kind,
            "subscription": c.kind == CampaignKind.SUBSCRIPTION,
            "status_label": pledge_status_label(
                kind=kind, status=p.status, campaign_status=c.status, deadline_passed=c.deadline <= now
            ),
            "holding": p.status in HOLDING_STATUSES,
            "can_cancel": p.status in HOLDING_STATUSES and is_open,
            "can_change": p in changeable,
        }
        if row["can_change"]:
            row["variants"] = variants.get(c.product_id, [])
            others = held.get((c.pk, p.fan_id), 0) - p.quantity
            row["max_quantity"] = max_quantity(
                quantity_bounds(p, others_held=others, committed=c.committed_quantity)
            )
        if row["subscription"]:
            row.update(_subscription_rows(p, next_cycles.get(c.pk), box=kind == BOX))
        rows.append(row)
    return render(
        request,
        "preorders/my_pledges.html",
        {"rows": rows, "config": {"page": "pledges", "status_labels": status_labels()}},
    )


def _is_open(pledge: Pledge, now: Any) -> bool:
    """The campaign still takes changes and cancels (a subscription while it runs)."""
    c = pledge.campaign
    return c.status == CampaignStatus.LIVE and (c.kind == CampaignKind.SUBSCRIPTION or c.deadline > now)


def _review_questions(orders: list[dict]) -> None:
    """The "suits my ..." questions of each reviewable order (the tag groups its product's category declares)."""
    from preorders.services.reviews import product_tag_groups

    want = [o["pledge"] for o in orders if o["can_review"]]
    products = {
        p.pk: p.campaign.product
        for p in Pledge.objects.filter(pk__in=want).select_related("campaign__product")
    }
    for o in orders:
        product = products.get(o["pledge"])
        o["review_questions"] = list(product_tag_groups(product)) if product else []


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    """One phone page: every pledge, balance due (with pay), box, parcel, credit and after-sales request."""
    from preorders.orders import order_list

    orders = order_list(user=request.user)
    campaigns = dict(
        Pledge.objects.filter(pk__in=[o["pledge"] for o in orders]).values_list("pk", "campaign__status")
    )
    boxes = set(
        BoxItem.objects.filter(campaign_id__in={o["campaign"] for o in orders}).values_list(
            "campaign_id", flat=True
        )
    )
    delivery_labels, shipment_labels = dict(DeliveryStatus.choices), dict(ShipmentStatus.choices)
    kinds, request_labels = dict(AfterSalesKind.choices), dict(AfterSalesStatus.choices)
    for o in orders:
        kind = pledge_kind(o["kind"], has_box=o["campaign"] in boxes)
        o["status_label"] = pledge_status_label(
            kind=kind, status=o["status"], campaign_status=campaigns.get(o["pledge"], CampaignStatus.LIVE)
        )
        for d in o["deliveries"]:
            d["status_label"] = delivery_labels.get(d["status"], d["status"])
        for s in o["shipments"]:
            s["status_label"] = shipment_labels.get(s["status"], s["status"])
        for r in o["after_sales"]:
            r["kind_label"] = kinds.get(r["kind"], r["kind"])
            r["status_label"] = request_labels.get(r["status"], r["status"])
        o["can_review"] = not o["reviewed"] and any(s["status"] == "delivered" for s in o["shipments"])
    _review_questions(orders)
    return render(request, "preorders/my_orders.html", {"orders": orders, "config": {"page": "orders"}})
