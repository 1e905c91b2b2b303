"""Reads for fulfilment: what a factory order has to ship per fan, its parcels, 慢就赔 risk, after-sales."""

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Prefetch, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from preorders.fulfilment_models import AfterSalesStatus
from preorders.models import (
    AfterSalesRequest,
    Campaign,
    CycleDelivery,
    DeliveryStatus,
    FactoryOrder,
    FactoryOrderSource,
    FactoryOrderStatus,
    Pledge,
    PledgeStatus,
    Shipment,
    ShipmentItem,
)
from preorders.money import money_round
from shops.models import Factory, ShopMember

BOARD_ORDERS = 50
LINES_MAX = 5000


def factory_order_sources(
    orders: list[FactoryOrder], *, shop_ids: set[int] | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Per order, the campaigns (and cycles) feeding it with their paid units in it. `shop_ids` keeps only
    those shops' sources (an owner does not see other shops' campaigns). Three queries for any number."""
    sources = list(
        FactoryOrderSource.objects.filter(order__in=orders)
        .select_related("campaign", "cycle__campaign")
        .order_by("pk")
    )
    campaign_ids = [s.campaign_id for s in sources if s.campaign_id]
    cycle_ids = [s.cycle_id for s in sources if s.cycle_id]
    paid = dict(
        Pledge.objects.filter(campaign_id__in=campaign_ids, status=PledgeStatus.PAID)
        .values("campaign_id")
        .annotate(n=Sum("quantity"))
        .order_by()
        .values_list("campaign_id", "n")
    )
    charged = dict(
        CycleDelivery.objects.filter(cycle_id__in=cycle_ids, status=DeliveryStatus.CHARGED)
        .values("cycle_id")
        .annotate(n=Sum("quantity"))
        .order_by()
        .values_list("cycle_id", "n")
    )
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for s in sources:
        campaign = s.campaign if s.campaign_id else s.cycle.campaign
        if shop_ids is not None and campaign.shop_id not in shop_ids:
            continue
        row: dict[str, Any] = {"campaign": campaign.pk}
        if s.cycle_id:
            row.update({"cycle": s.cycle_id, "quantity": charged.get(s.cycle_id, 0) or 0})
        else:
            row["quantity"] = paid.get(s.campaign_id, 0) or 0
        out[s.order_id].append(row)
    return out


def factory_orders_of_campaign(campaign: Campaign) -> QuerySet[FactoryOrder]:
    """The factory orders a campaign feeds: its roll-up, or one per subscription cycle."""
    from preorders.selectors import factory_order_list

    return factory_order_list().filter(Q(sources__campaign=campaign) | Q(sources__cycle__campaign=campaign))


def recipient_code(order_id: int, fan_id: int) -> str:
    """An opaque label that groups one fan's lines into a parcel without naming the fan."""
    return hashlib.sha256(f"fansi-recipient:{order_id}:{fan_id}".encode()).hexdigest()[:6].upper()


def shipment_to_dict(shipment: Shipment, *, items: list[ShipmentItem] | None = None) -> dict[str, Any]:
    items = items if items is not None else list(shipment.items.all())
    return {
        "id": shipment.pk,
        "factory_order": shipment.factory_order_id,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "shipped_at": shipment.shipped_at.isoformat(),
        "status": shipment.status,
        "delivered_at": shipment.delivered_at.isoformat() if shipment.delivered_at else None,
        "confirmed_at": shipment.confirmed_at.isoformat() if shipment.confirmed_at else None,
        "confirmed_by": shipment.confirmed_by or None,
        "pledges": [i.pledge_id for i in items],
        "items": [{"pledge": i.pledge_id, "quantity": i.quantity} for i in items],
        "created_at": shipment.created_at.isoformat(),
    }


def order_shipments(order: FactoryOrder, *, shop_ids: set[int] | None = None) -> list[dict[str, Any]]:
    qs = Shipment.objects.filter(factory_order=order).prefetch_related("items").order_by("pk")
    if shop_ids is not None:
        qs = qs.filter(fan__shop_id__in=shop_ids)
    return [shipment_to_dict(s) for s in qs[:LINES_MAX]]


def order_lines_to_ship(order: FactoryOrder, *, shop_ids: set[int] | None = None) -> list[dict[str, Any]]:
    """One line per paid pledge (or charged box) of the order: what the packer needs and nothing more
    (pledge id, variant, quantity, an opaque recipient code), with its live parcel if it has one."""
    if order.cycle_id is not None:
        qs = CycleDelivery.objects.filter(cycle_id=order.cycle_id, status=DeliveryStatus.CHARGED)
        if shop_ids is not None:
            qs = qs.filter(pledge__campaign__shop_id__in=shop_ids)
        rows = [
            (d["pledge_id"], d["pledge__fan_id"], d["pledge__variant_name"], d["pledge__sku"], d["quantity"])
            for d in qs.order_by("pledge_id").values(
                "pledge_id", "pledge__fan_id", "pledge__variant_name", "pledge__sku", "quantity"
            )[:LINES_MAX]
        ]
    else:
        campaigns = FactoryOrderSource.objects.filter(order=order, campaign__isnull=False).values(
            "campaign_id"
        )
        qs = Pledge.objects.filter(campaign_id__in=campaigns, status=PledgeStatus.PAID)
        if shop_ids is not None:
            qs = qs.filter(campaign__shop_id__in=shop_ids)
        rows = [
            (
                p["pk"],
                p["fan_id"],
                p["variant_name"],
                p["variant__factory_variant__sku"] or p["sku"],
                p["quantity"],
            )
            for p in qs.order_by("fan_id", "pk").values(
                "pk", "fan_id", "variant_name", "sku", "variant__factory_variant__sku", "quantity"
            )[:LINES_MAX]
        ]
    live = {
        i.pledge_id: i.shipment
        for i in ShipmentItem.objects.filter(
            factory_order=order, pledge_id__in=[r[0] for r in rows], lost=False
        ).select_related("shipment")
    }
    out = []
    for pledge_id, fan_id, variant_name, sku, quantity in rows:
        shipment = live.get(pledge_id)
        out.append(
            {
                "pledge": pledge_id,
                "recipient": recipient_code(order.pk, fan_id),
                "variant_name": variant_name,
                "sku": sku,
                "quantity": quantity,
                "shipment": None
                if shipment is None
                else {
                    "id": shipment.pk,
                    "carrier": shipment.carrier,
                    "tracking_number": shipment.tracking_number,
                    "status": shipment.status,
                },
            }
        )
    return out


def board_orders(factory: Factory) -> list[dict[str, Any]]:
    """The factory's live orders (not cancelled), each with its per-fan lines to ship."""
    orders = list(
        FactoryOrder.objects.filter(factory_product__factory=factory)
        .exclude(status=FactoryOrderStatus.CANCELLED)
        .select_related("factory_product")
        .order_by("-created_at", "-pk")[:BOARD_ORDERS]
    )
    out = []
    for order in orders:
        lines = order_lines_to_ship(order)
        out.append(
            {
                "id": order.pk,
                "product_name": order.factory_product.name,
                "window_start": order.window_start.isoformat(),
                "cycle": order.cycle_id,
                "status": order.status,
                "status_label": order.get_status_display(),
                "units": sum(line["quantity"] for line in lines),
                "units_shipped": sum(line["quantity"] for line in lines if line["shipment"]),
                "lines": lines,
            }
        )
    return out


def late_risk(campaign: Campaign, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Paid units not shipped yet and the time left to ship_by; what 慢就赔 would pay if the time ran out."""
    from payments.ledger import pledges_cash
    from preorders.services.late_compensation import unshipped_pledges

    now = now or timezone.now()
    paid_units = (
        Pledge.objects.filter(campaign=campaign, status=PledgeStatus.PAID).aggregate(n=Sum("quantity"))["n"]
        or 0
    )
    rows = list(unshipped_pledges(campaign.pk).values_list("pk", "quantity"))
    cash = pledges_cash([pk for pk, _q in rows])
    percent = campaign.late_compensation_percent
    at_risk = sum((money_round(cash.get(pk, Decimal(0)) * percent / 100) for pk, _q in rows), Decimal("0.00"))
    seconds_left = int((campaign.ship_by - now).total_seconds()) if campaign.ship_by else None
    return {
        "campaign": campaign.pk,
        "ship_by": campaign.ship_by.isoformat() if campaign.ship_by else None,
        "seconds_left": seconds_left,
        "overdue": seconds_left is not None and seconds_left <= 0,
        "late_compensation_percent": str(percent),
        "paid_units": paid_units,
        "unshipped_units": sum(q for _pk, q in rows),
        "unshipped_pledges": len(rows),
        "compensation_at_risk": str(at_risk),
        "compensated": campaign.late_checked_at is not None,
    }


def after_sales_to_dict(request: AfterSalesRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "pledge": request.pledge_id,
        "campaign": request.pledge.campaign_id,
        "kind": request.kind,
        "reason": request.reason,
        "amount": str(request.amount),
        "currency": request.currency,
        "status": request.status,
        "decision_reason": request.decision_reason,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "photo": f"/api/after-sales/{request.pk}/photo/" if request.photo else None,
        "refunded": bool(request.credit_id and request.credit.paid_out),
        "created_at": request.created_at.isoformat(),
    }


def after_sales_list(
    *, user: AbstractBaseUser, campaign_id: int | None = None
) -> QuerySet[AfterSalesRequest]:
    """Requests on pledges of shops the user works for (open first, newest first)."""
    shops = ShopMember.objects.filter(user=user, is_active=True).values("shop_id")
    qs = AfterSalesRequest.objects.filter(pledge__campaign__shop_id__in=shops)
    if campaign_id is not None:
        qs = qs.filter(pledge__campaign_id=campaign_id)
    open_first = Case(When(status=AfterSalesStatus.OPEN, then=Value(0)), default=Value(1))
    return qs.select_related("pledge__campaign", "pledge__fan", "credit").order_by(
        open_first, "-created_at", "-pk"
    )


def pledge_fulfilment(pledge: Pledge) -> dict[str, Any]:
    """A fan's view of one pledge's parcels and after-sales requests."""
    shipments = (
        Shipment.objects.filter(items__pledge=pledge)
        .prefetch_related(Prefetch("items", queryset=ShipmentItem.objects.order_by("pledge_id")))
        .order_by("pk")
    )
    requests = (
        AfterSalesRequest.objects.filter(pledge=pledge).select_related("pledge", "credit").order_by("-pk")
    )
    return {
        "pledge": pledge.pk,
        "shipments": [shipment_to_dict(s) for s in shipments],
        "after_sales": [after_sales_to_dict(r) for r in requests],
        "open_request": any(r.status == AfterSalesStatus.OPEN for r in requests),
    }
