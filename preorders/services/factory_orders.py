"""Rolling certain demand up into factory orders, and moving orders through their life."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from preorders.models import (
    Campaign,
    CampaignStatus,
    CycleDelivery,
    DeliveryStatus,
    FactoryOrder,
    FactoryOrderLine,
    FactoryOrderSource,
    FactoryOrderStatus,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
)
from preorders.money import line_value
from preorders.services.release import cycle_box_release, factory_order_release
from preorders.services.settlement import pledges_refund_chunked

TRANSITIONS: dict[str, set[str]] = {
    FactoryOrderStatus.DRAFT: {FactoryOrderStatus.SENT, FactoryOrderStatus.CANCELLED},
    FactoryOrderStatus.SENT: {FactoryOrderStatus.CONFIRMED, FactoryOrderStatus.CANCELLED},
    FactoryOrderStatus.CONFIRMED: {FactoryOrderStatus.IN_PRODUCTION, FactoryOrderStatus.CANCELLED},
    FactoryOrderStatus.IN_PRODUCTION: {FactoryOrderStatus.SHIPPED},
    FactoryOrderStatus.SHIPPED: {FactoryOrderStatus.DELIVERED},
    FactoryOrderStatus.DELIVERED: set(),
    FactoryOrderStatus.CANCELLED: set(),
}


def delivery_window(campaign: Campaign) -> dt.date:
    """The week (its Monday) in which the factory can deliver: deadline plus lead time."""
    lead = campaign.factory_product.lead_time_days if campaign.factory_product else 0
    day = timezone.localdate(campaign.deadline) + dt.timedelta(days=lead)
    return day - dt.timedelta(days=day.weekday())


def _draft_order_lock(factory_product_id: int, window: dt.date) -> FactoryOrder:
    """The open roll-up order for a product and window, created on first use (race-safe by constraint)."""
    qs = FactoryOrder.objects.select_for_update().filter(
        factory_product_id=factory_product_id,
        window_start=window,
        cycle__isnull=True,
        status=FactoryOrderStatus.DRAFT,
    )
    order = qs.first()
    if order is not None:
        return order
    try:
        with transaction.atomic():
            FactoryOrder.objects.create(factory_product_id=factory_product_id, window_start=window)
    except IntegrityError:
        pass  # created concurrently; lock that one
    return qs.get()


def _lines_add(order: FactoryOrder, rows: dict[str, dict]) -> None:
    """Add quantities to the order's lines, locking them in SKU order."""
    existing = {
        line.sku: line
        for line in FactoryOrderLine.objects.select_for_update()
        .filter(order=order, sku__in=list(rows))
        .order_by("sku")
    }
    for sku in sorted(rows):
        row = rows[sku]
        if sku in existing:
            FactoryOrderLine.objects.filter(pk=existing[sku].pk).update(
                quantity=F("quantity") + row["quantity"],
                deposits=F("deposits") + row["deposits"],
                value=F("value") + row["value"],
            )
        else:
            FactoryOrderLine.objects.create(
                order=order,
                sku=sku,
                name=row["name"],
                factory_variant_id=row["fv"],
                quantity=row["quantity"],
                deposits=row["deposits"],
                value=row["value"],
            )


def campaign_rollup(campaign: Campaign) -> FactoryOrder | None:
    """Add a succeeded campaign's confirmed pledges to its window's draft order; once per campaign.

    Joins the caller's transaction.
    """
    if campaign.factory_product_id is None or campaign.status != CampaignStatus.SUCCEEDED:
        return None
    with transaction.atomic():
        source = FactoryOrderSource.objects.select_related("order").filter(campaign=campaign).first()
        if source is not None:
            return source.order
        order = _draft_order_lock(campaign.factory_product_id, delivery_window(campaign))
        rows: dict[str, dict] = defaultdict(
            lambda: {"quantity": 0, "deposits": Decimal(0), "value": Decimal(0)}
        )
        # Aggregated in the database: every confirmed pledge of a campaign has the same final price.
        grouped = (
            # Paid units only: certain demand is paid demand.
            Pledge.objects.filter(campaign=campaign, status=PledgeStatus.PAID)
            .values(
                "variant__factory_variant_id",
                "variant__factory_variant__sku",
                "variant__factory_variant__name",
                "sku",
                "variant_name",
            )
            .annotate(quantity=Sum("quantity"), deposits=Sum("deposit_amount"))
            .order_by()
        )
        for p in grouped:
            sku = p["variant__factory_variant__sku"] or p["sku"]
            row = rows[sku]
            row["fv"] = p["variant__factory_variant_id"]
            row["name"] = p["variant__factory_variant__name"] or p["variant_name"]
            row["quantity"] += p["quantity"]
            row["deposits"] += p["deposits"]
            row["value"] += line_value(quantity=p["quantity"], unit_price=campaign.final_unit_price)
        _lines_add(order, rows)
        FactoryOrderSource.objects.create(order=order, campaign=campaign)
    return order


def cycle_rollup(cycle: SubscriptionCycle) -> FactoryOrder | None:
    """One factory order per subscription cycle, from the deliveries fixed at its cut-off."""
    campaign = cycle.campaign
    if campaign.factory_product_id is None:
        return None
    with transaction.atomic():
        existing = FactoryOrder.objects.filter(cycle=cycle).first()
        if existing is not None:
            return existing
        day = timezone.localdate(cycle.delivery_at)
        order = FactoryOrder.objects.create(
            factory_product_id=campaign.factory_product_id,
            cycle=cycle,
            window_start=day - dt.timedelta(days=day.weekday()),
            currency=campaign.currency,
        )
        rows: dict[str, dict] = defaultdict(
            lambda: {"quantity": 0, "deposits": Decimal(0), "value": Decimal(0)}
        )
        for d in CycleDelivery.objects.filter(cycle=cycle, status=DeliveryStatus.CHARGED).values(
            "pledge__variant__factory_variant_id",
            "pledge__variant__factory_variant__sku",
            "pledge__variant__factory_variant__name",
            "pledge__sku",
            "pledge__variant_name",
            "quantity",
            "amount",
        ):
            sku = d["pledge__variant__factory_variant__sku"] or d["pledge__sku"]
            row = rows[sku]
            row["fv"] = d["pledge__variant__factory_variant_id"]
            row["name"] = d["pledge__variant__factory_variant__name"] or d["pledge__variant_name"]
            row["quantity"] += d["quantity"]
            row["value"] += d["amount"]
        _lines_add(order, rows)
        CycleDelivery.objects.filter(cycle=cycle, status=DeliveryStatus.CHARGED).update(added_to_order=True)
        FactoryOrderSource.objects.create(order=order, cycle=cycle)
    return order


def cycle_delivery_add(*, cycle_id: int, delivery_id: int) -> None:
    """A box paid late (in dunning) joins its cycle's order once; the order's source row keeps it unique."""
    with transaction.atomic(durable=True):
        order = FactoryOrder.objects.select_for_update().filter(cycle_id=cycle_id).first()
        if order is None:
            return  # the order is built later from every paid box
        d = (
            # Only the box row is locked: PostgreSQL cannot lock the nullable side of the variant joins.
            CycleDelivery.objects.select_for_update(of=("self",))
            .filter(pk=delivery_id, status=DeliveryStatus.CHARGED, added_to_order=False)
            .values(
                "pledge__variant__factory_variant_id",
                "pledge__variant__factory_variant__sku",
                "pledge__variant__factory_variant__name",
                "pledge__sku",
                "pledge__variant_name",
                "quantity",
                "amount",
            )
            .first()
        )
        if d is None:
            return
        sku = d["pledge__variant__factory_variant__sku"] or d["pledge__sku"]
        _lines_add(
            order,
            {
                sku: {
                    "fv": d["pledge__variant__factory_variant_id"],
                    "name": d["pledge__variant__factory_variant__name"] or d["pledge__variant_name"],
                    "quantity": d["quantity"],
                    "deposits": Decimal(0),
                    "value": d["amount"],
                }
            },
        )
        CycleDelivery.objects.filter(pk=delivery_id).update(added_to_order=True)
        cycle_box_release(order=order, delivery_id=delivery_id)


def factory_order_transition(
    *, order_id: int, status: str, actor: AbstractBaseUser | None = None
) -> FactoryOrder:
    """draft → sent → confirmed → in production → shipped → delivered, or cancelled (with refunds)."""
    with transaction.atomic(durable=True):
        order = FactoryOrder.objects.select_for_update().get(pk=order_id)
        repeated = status == order.status
        if not repeated:
            if status not in TRANSITIONS.get(order.status, set()):
                raise Conflict(
                    _("A factory order cannot go from %(a)s to %(b)s.") % {"a": order.status, "b": status},
                    code="transition_invalid",
                )
            order.status = status
            fields = ["status", "updated_at"]
            if status == FactoryOrderStatus.SENT and order.sent_at is None:
                order.sent_at = timezone.now()
                fields.append("sent_at")
            order.save(update_fields=fields)
    # After the status commit, and again when the same move is asked twice (a rerun finishes it).
    if status == FactoryOrderStatus.SENT:
        with transaction.atomic(durable=True):
            factory_order_release(order_id=order_id)
    elif status == FactoryOrderStatus.CANCELLED and not repeated:
        factory_order_refunds_run(order_id=order_id)
    return order


def factory_order_refunds_run(*, order_id: int) -> int:
    """Refund every confirmed pledge of a cancelled order's campaigns; rerunnable after a crash."""
    order = FactoryOrder.objects.get(pk=order_id)
    if order.status != FactoryOrderStatus.CANCELLED:
        return 0
    campaign_ids = list(
        FactoryOrderSource.objects.filter(order=order, campaign__isnull=False).values_list(
            "campaign_id", flat=True
        )
    )
    return sum(
        pledges_refund_chunked(campaign_id=cid, from_status=status, reason="factory-cancel")
        for cid in campaign_ids
        for status in (PledgeStatus.PAID, PledgeStatus.CONFIRMED)
    )


def moq_shortfall(campaign: Campaign) -> dict[str, dict[str, int]]:
    """Factory SKUs (and the product, "*") that lapses pushed under the factory's minimum order quantity:
    paid units below the MOQ where the units confirmed at the close reached it."""
    if campaign.factory_product_id is None:
        return {}
    from django.db.models import Q

    rows = (
        Pledge.objects.filter(campaign=campaign, status__in=[PledgeStatus.PAID, PledgeStatus.LAPSED])
        .values("variant__factory_variant__sku", "variant__factory_variant__moq", "sku")
        .annotate(
            paid=Sum("quantity", filter=Q(status=PledgeStatus.PAID)),
            confirmed=Sum("quantity"),
        )
        .order_by()
    )
    short: dict[str, dict[str, int]] = {}
    total_paid = total_confirmed = 0
    for r in rows:
        paid, confirmed = r["paid"] or 0, r["confirmed"] or 0
        total_paid, total_confirmed = total_paid + paid, total_confirmed + confirmed
        moq = r["variant__factory_variant__moq"] or 0
        if paid < moq <= confirmed:
            short[r["variant__factory_variant__sku"] or r["sku"]] = {"paid": paid, "moq": moq}
    product_moq = campaign.factory_product.moq
    if total_paid < product_moq <= total_confirmed:
        short["*"] = {"paid": total_paid, "moq": product_moq}
    return short


def campaign_after_lapse(*, campaign_id: int) -> str:
    """After the balance deadline: build the factory order from paid units, unless lapses pushed a SKU
    under its MOQ; then the owner is told and decides first (campaign_moq_decide). Safe to rerun."""
    from core.events import announce

    campaign = Campaign.objects.select_related("factory_product", "shop").get(pk=campaign_id)
    if campaign.lapsed_at is None or campaign.status != CampaignStatus.SUCCEEDED:
        return "waiting"
    if FactoryOrderSource.objects.filter(campaign=campaign).exists():
        return "ordered"
    if not campaign.moq_decision:
        short = moq_shortfall(campaign)
        if short:
            with transaction.atomic(durable=True):
                updated = Campaign.objects.filter(pk=campaign.pk, moq_shortfall__isnull=True).update(
                    moq_shortfall=short
                )
                if updated:
                    announce(
                        [f"shop.{campaign.shop_id}"],
                        {"type": "campaign.moq_shortfall", "campaign": campaign.pk, "shortfall": short},
                    )
            return "moq_shortfall"
    with transaction.atomic(durable=True):
        campaign_rollup(Campaign.objects.select_for_update().get(pk=campaign.pk))
    return "ordered"


MOQ_DECISIONS = ("ship_anyway", "cancel", "top_up")


def campaign_moq_decide(*, user: AbstractBaseUser, campaign_id: int, decision: str) -> Campaign:
    """The owner's answer to a MOQ shortfall: ship anyway at the same price, top up from the waitlist
    (preorders.services.waitlist), or cancel with full refunds."""
    from preorders.access import access_campaign_to_manage

    if decision not in MOQ_DECISIONS:
        raise Invalid(_("decision must be ship_anyway, cancel or top_up."), code="decision_invalid")
    with transaction.atomic(durable=True):
        campaign = access_campaign_to_manage(user, campaign_id, lock=True)
        if not campaign.moq_shortfall or campaign.moq_decision:
            raise Conflict(_("There is no MOQ shortfall waiting for a decision."), code="no_moq_decision")
        if decision == "top_up":
            from preorders.services.waitlist import campaign_top_up

            if not campaign_top_up(campaign=campaign):
                raise Conflict(_("Nobody on the waitlist can cover the shortfall."), code="waitlist_empty")
        Campaign.objects.filter(pk=campaign.pk).update(moq_decision=decision)
    if decision == "top_up":
        return Campaign.objects.get(pk=campaign_id)
    if decision == "cancel":
        pledges_refund_chunked(campaign_id=campaign_id, from_status=PledgeStatus.PAID, reason="moq-cancel")
        Campaign.objects.filter(pk=campaign_id).update(status=CampaignStatus.FAILED)
    else:
        campaign_after_lapse(campaign_id=campaign_id)
    return Campaign.objects.get(pk=campaign_id)
