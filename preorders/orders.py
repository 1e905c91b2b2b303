"""The fan's "my orders": every pledge with its money and parcels, newest first (one read per kind)."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Sum

from payments.ledger import cents
from payments.models import Account, LedgerLeg, Payment, PaymentStatus, TransactionKind
from preorders.models import Credit, CycleDelivery, Pledge, PledgeStatus


def _model(name: str) -> Any:
    try:
        return apps.get_model("preorders", name)
    except LookupError:
        return None


def order_list(*, user: AbstractBaseUser, limit: int = 200) -> list[dict[str, Any]]:
    """The caller's own pledges only (scoped by user)."""
    if not user.is_authenticated:
        return []
    pledges = list(
        Pledge.objects.filter(user=user)
        .select_related("campaign", "campaign__shop")
        .order_by("-created_at", "-pk")[:limit]
    )
    ids = [p.pk for p in pledges]
    paid: dict[int, Decimal] = {
        r["transaction__pledge_id"]: cents(r["total"])
        for r in LedgerLeg.objects.filter(transaction__pledge_id__in=ids, account=Account.PROVIDER)
        .filter(
            transaction__kind__in=[
                TransactionKind.DEPOSIT,
                TransactionKind.BALANCE,
                TransactionKind.CYCLE_CHARGE,
            ]
        )
        .values("transaction__pledge_id")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    credits: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in Credit.objects.filter(pledge_id__in=ids).order_by("-created_at"):
        credits[c.pledge_id].append(
            {
                "kind": c.kind,
                "amount": str(c.amount),
                "paid_out": c.paid_out,
                "note": c.note,
                "at": c.created_at.isoformat(),
            }
        )
    pending = set(
        Payment.objects.filter(
            pledge_id__in=ids, purpose="balance", status=PaymentStatus.PENDING
        ).values_list("pledge_id", flat=True)
    )
    deliveries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for d in (
        CycleDelivery.objects.filter(pledge_id__in=ids).select_related("cycle").order_by("-cycle__number")
    ):
        deliveries[d.pledge_id].append(
            {
                "id": d.pk,
                "cycle": d.cycle.number,
                "delivery_at": d.cycle.delivery_at.isoformat(),
                "amount": str(d.amount),
                "status": d.status,
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
            }
        )
    shipments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    item_model = _model("ShipmentItem")
    if item_model is not None:
        for item in (
            item_model.objects.filter(pledge_id__in=ids).select_related("shipment").order_by("-shipment__pk")
        ):
            s = item.shipment
            shipments[item.pledge_id].append(
                {
                    "id": s.pk,
                    "carrier": s.carrier,
                    "tracking_number": s.tracking_number,
                    "status": s.status,
                    "shipped_at": s.shipped_at.isoformat() if getattr(s, "shipped_at", None) else None,
                    "delivered_at": s.delivered_at.isoformat() if getattr(s, "delivered_at", None) else None,
                    "confirmed_at": s.confirmed_at.isoformat() if getattr(s, "confirmed_at", None) else None,
                }
            )
    after_sales: dict[int, list[dict[str, Any]]] = defaultdict(list)
    request_model = _model("AfterSalesRequest")
    if request_model is not None:
        for r in request_model.objects.filter(pledge_id__in=ids).order_by("-pk"):
            after_sales[r.pledge_id].append(
                {"id": r.pk, "kind": r.kind, "status": r.status, "amount": str(r.amount), "reason": r.reason}
            )
    from preorders.services.reviews import reviewed_pledge_ids

    reviewed = reviewed_pledge_ids(ids)
    out = []
    for p in pledges:
        c = p.campaign
        owes = p.status == PledgeStatus.CONFIRMED
        out.append(
            {
                "pledge": p.pk,
                "campaign": c.pk,
                "campaign_title": c.title,
                "shop": c.shop.name,
                "shop_slug": c.shop.slug,
                "kind": c.kind,
                "status": p.status,
                "variant_name": p.variant_name,
                "quantity": p.quantity,
                "currency": p.currency,
                "deposit_amount": str(p.deposit_amount),
                "final_unit_price": None if p.final_unit_price is None else str(p.final_unit_price),
                "balance_due": str(p.balance_due) if owes and p.balance_due is not None else None,
                "balance_deadline": c.balance_deadline.isoformat() if owes and c.balance_deadline else None,
                "balance_pending": p.pk in pending,
                "paid_amount": str(paid.get(p.pk, Decimal(0))),
                "ship_by": c.ship_by.isoformat() if c.ship_by else None,
                "deliveries": deliveries.get(p.pk, []),
                "shipments": shipments.get(p.pk, []),
                "credits": credits.get(p.pk, []),
                "after_sales": after_sales.get(p.pk, []),
                "reviewed": p.pk in reviewed,
                "created_at": p.created_at.isoformat(),
            }
        )
    return out
