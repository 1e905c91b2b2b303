"""The release: when a factory order is sent, the money its campaigns and cycles hold becomes payable.

One ledger transaction (kind "release") per source of the order, once ever (its reference is unique):

- a group campaign, `campaign-<id>-release-fo-<order>`: the fans' money of its paid pledges leaves
  `fans_held` and its forfeited deposits leave `forfeited`; the factory is owed paid units × its unit cost,
  the platform its fee on what those fans paid, and the shop the rest (negative when it sold below cost:
  the transaction still balances, and the statement shows it);
- a subscription cycle, `cycle-<id>-release`: the charged boxes' amounts leave `fans_held`, split the same
  way; a box paid in dunning after its cycle was released gets its own `cycle-<id>-release-box-<id>`.

The order row is locked while a release is computed and while a late box joins the order
(factory_orders.cycle_delivery_add), so a box is released exactly once, by one of the two.

Out of scope: an order cancelled after it was sent. Cancellations happen before sending (the factory
has not started); a mirror posting that takes a release back would belong here when that changes.
"""

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from payments.ledger import Posting, cents, ledger_has, ledger_post_many
from payments.models import Account, LedgerLeg, LedgerTransaction, TransactionKind
from preorders.models import (
    Campaign,
    CycleDelivery,
    DeliveryStatus,
    FactoryOrder,
    FactoryOrderSource,
    FactoryOrderStatus,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
)
from preorders.money import money_round

logger = logging.getLogger(__name__)

# Orders whose money is released: sent to the factory, and every step after it.
RELEASED_STATUSES = (
    FactoryOrderStatus.SENT,
    FactoryOrderStatus.CONFIRMED,
    FactoryOrderStatus.IN_PRODUCTION,
    FactoryOrderStatus.SHIPPED,
    FactoryOrderStatus.DELIVERED,
)


def campaign_release_reference(campaign_id: int, order_id: int) -> str:
    return f"campaign-{campaign_id}-release-fo-{order_id}"


def cycle_release_reference(cycle_id: int) -> str:
    return f"cycle-{cycle_id}-release"


def cycle_box_release_reference(cycle_id: int, delivery_id: int) -> str:
    return f"cycle-{cycle_id}-release-box-{delivery_id}"


def platform_fee(paid: Decimal) -> Decimal:
    return money_round(paid * Decimal(settings.FANSI_PLATFORM_FEE_PERCENT) / 100)


def release_posting(
    *,
    reference: str,
    campaign: Campaign,
    factory_id: int,
    held: Decimal,
    forfeited: Decimal,
    units: int,
    unit_cost: Decimal,
    memo: str,
) -> Posting | None:
    """The split of one release: debits held and forfeited money, credits factory, platform and shop."""
    factory = money_round(Decimal(units) * unit_cost)
    fee = platform_fee(held)
    shop = held + forfeited - factory - fee
    legs = [
        (Account.FANS_HELD, held),
        (Account.FORFEITED, forfeited),
        (Account.FACTORY_PAYABLE, -factory),
        (Account.PLATFORM_FEES, -fee),
        (Account.SHOP_PAYABLE, -shop),
    ]
    legs = [(account, amount) for account, amount in legs if amount != 0]
    if not legs:
        return None
    return Posting(
        TransactionKind.RELEASE,
        reference,
        sum((amount for _a, amount in legs if amount > 0), Decimal(0)),
        legs,
        currency=campaign.currency,
        shop_id=campaign.shop_id,
        campaign_id=campaign.pk,
        factory_id=factory_id,
        memo=memo[:200],
    )


def _held_for(pledge_ids: Any) -> Decimal:
    """What `fans_held` holds for these pledges: their net payments (a refund took its share back out)."""
    total = LedgerLeg.objects.filter(
        transaction__pledge_id__in=pledge_ids, account=Account.FANS_HELD
    ).aggregate(t=Sum("amount"))["t"]
    return -cents(total)


def _campaign_posting(order: FactoryOrder, campaign: Campaign) -> Posting | None:
    paid = Pledge.objects.filter(campaign=campaign, status=PledgeStatus.PAID)
    units = paid.aggregate(n=Sum("quantity"))["n"] or 0
    forfeited = LedgerLeg.objects.filter(
        transaction__campaign_id=campaign.pk, account=Account.FORFEITED
    ).aggregate(t=Sum("amount"))["t"]
    forfeited = cents(forfeited)
    return release_posting(
        reference=campaign_release_reference(campaign.pk, order.pk),
        campaign=campaign,
        factory_id=order.factory_product.factory_id,
        held=_held_for(paid.values("pk")),
        forfeited=-forfeited,
        units=units,
        unit_cost=order.factory_product.unit_cost,
        memo=f"FO-{order.pk}: {units} paid units",
    )


def _boxes_posting(order: FactoryOrder, cycle: SubscriptionCycle, boxes: Q, reference: str) -> Posting | None:
    charged = CycleDelivery.objects.filter(boxes, cycle=cycle, status=DeliveryStatus.CHARGED)
    sums = charged.aggregate(n=Sum("quantity"), amount=Sum("amount"))
    if not sums["n"]:
        return None
    return release_posting(
        reference=reference,
        campaign=cycle.campaign,
        factory_id=order.factory_product.factory_id,
        held=cents(sums["amount"]),
        forfeited=Decimal(0),
        units=sums["n"],
        unit_cost=order.factory_product.unit_cost,
        memo=f"FO-{order.pk}: box {cycle.number}, {sums['n']} paid units",
    )


def factory_order_release(*, order_id: int) -> set[str]:
    """Post the release of every source of a sent order; returns the references written now.

    Safe to rerun (each reference is written once) and a no-op for drafts and cancelled orders.
    """
    with transaction.atomic():
        order = (
            FactoryOrder.objects.select_for_update(of=("self",))
            .select_related("factory_product")
            .get(pk=order_id)
        )
        if order.status not in RELEASED_STATUSES:
            return set()
        postings = []
        sources = FactoryOrderSource.objects.filter(order=order).select_related("campaign", "cycle__campaign")
        for source in sources.order_by("pk"):
            if source.campaign_id is not None:
                posting = _campaign_posting(order, source.campaign)
            else:
                # The boxes that joined the order so far; a later one is released on its own.
                posting = _boxes_posting(
                    order, source.cycle, Q(added_to_order=True), cycle_release_reference(source.cycle_id)
                )
            if posting is not None:
                postings.append(posting)
        return ledger_post_many(postings)


def cycle_box_release(*, order: FactoryOrder, delivery_id: int) -> bool:
    """A box paid late joins a cycle order that was already released: release that box alone.

    Called by factory_orders.cycle_delivery_add inside its transaction, holding the order's lock.
    """
    if order.status not in RELEASED_STATUSES or order.cycle_id is None:
        return False
    if not ledger_has(cycle_release_reference(order.cycle_id)):
        return False  # the cycle's release, when it comes, counts this box with the others
    cycle = SubscriptionCycle.objects.select_related("campaign").get(pk=order.cycle_id)
    order = FactoryOrder.objects.select_related("factory_product").get(pk=order.pk)
    posting = _boxes_posting(
        order, cycle, Q(pk=delivery_id), cycle_box_release_reference(order.cycle_id, delivery_id)
    )
    return posting is not None and bool(ledger_post_many([posting]))


def factory_order_releases_sweep(*, within_days: int = 7, limit: int = 500) -> int:
    """Beat entry: release recently moved orders whose release a crash left unposted after the status
    commit. Returns the transactions written."""
    since = timezone.now() - dt.timedelta(days=within_days)
    expected: dict[str, int] = {}
    for order_id, campaign_id, cycle_id in FactoryOrderSource.objects.filter(
        order__status__in=RELEASED_STATUSES, order__updated_at__gte=since
    ).values_list("order_id", "campaign_id", "cycle_id")[:limit]:
        reference = (
            campaign_release_reference(campaign_id, order_id)
            if campaign_id is not None
            else cycle_release_reference(cycle_id)
        )
        expected[reference] = order_id
    posted = set(
        LedgerTransaction.objects.filter(reference__in=list(expected)).values_list("reference", flat=True)
    )
    done = 0
    for order_id in sorted({o for ref, o in expected.items() if ref not in posted}):
        try:
            done += len(factory_order_release(order_id=order_id))
        except Exception:  # noqa: BLE001 - the next run retries; one order must not block the others
            logger.exception("release of factory order %s failed", order_id)
    return done
