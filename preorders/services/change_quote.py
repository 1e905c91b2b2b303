"""What a change or a cancel would cost the fan, before they confirm: read-only, the same checks as the write.

The change quote runs pledge_change's checks (open campaign, active pledge, quantity, variant, the per-fan
limit and the cap) without locks, so the dialog shows the same coded refusal the change would give.
"""

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Sum
from django.utils.translation import gettext as _

from core.errors import Conflict
from payments.ledger import pledge_cash
from payments.models import Account, LedgerLeg, TransactionKind
from preorders.access import access_pledge
from preorders.models import HOLDING_STATUSES, Campaign, CampaignKind, Pledge, PledgeStatus
from preorders.money import deposit_for
from preorders.services.pledge_rules import campaign_open_check, quantity_clean, variant_get


def deposit_held(pledge_id: int) -> Decimal:
    """Deposit cash still held for a pledge: deposits less refunds (a subscription's paid boxes aside)."""
    total = LedgerLeg.objects.filter(
        transaction__pledge_id=pledge_id,
        account=Account.PROVIDER,
        transaction__kind__in=[TransactionKind.DEPOSIT, TransactionKind.REFUND],
    ).aggregate(t=Sum("amount"))["t"]
    return max(Decimal(total or 0).quantize(Decimal("0.01")), Decimal("0.00"))


def cancel_refund_amount(pledge: Pledge) -> Decimal:
    """What cancelling gives back: a group pledge's net paid; a subscription's deposit (boxes received are
    kept, as they were delivered)."""
    if pledge.campaign.kind == CampaignKind.SUBSCRIPTION:
        return deposit_held(pledge.pk)
    return max(pledge_cash(pledge.pk), Decimal("0.00"))


def quantity_bounds(pledge: Pledge, *, others_held: int, committed: int) -> tuple[int | None, int | None]:
    """(by the per-fan limit, by the cap): the most this pledge may hold after a change, each None when
    unbounded. `others_held`: the fan's other holding pledges here; `committed`: the campaign's total."""
    campaign = pledge.campaign
    by_limit = by_cap = None
    if campaign.per_fan_limit is not None:
        by_limit = max(campaign.per_fan_limit - others_held, pledge.quantity)
    if campaign.cap is not None:
        by_cap = max(pledge.quantity + campaign.cap - committed, pledge.quantity)
    return by_limit, by_cap


def max_quantity(bounds: tuple[int | None, int | None]) -> int | None:
    return min((b for b in bounds if b is not None), default=None)


def _bounds(pledge: Pledge) -> tuple[int | None, int | None]:
    others = (
        Pledge.objects.filter(
            campaign_id=pledge.campaign_id, fan_id=pledge.fan_id, status__in=HOLDING_STATUSES
        )
        .exclude(pk=pledge.pk)
        .aggregate(q=Sum("quantity"))["q"]
    )
    committed = (
        Campaign.objects.filter(pk=pledge.campaign_id).values_list("committed_quantity", flat=True).get()
    )
    return quantity_bounds(pledge, others_held=others or 0, committed=committed)


def pledge_change_quote(
    *, user: AbstractBaseUser, pledge_id: int, quantity: Any = None, variant_id: Any = None
) -> dict[str, Any]:
    """The deposit after a change and its difference (positive: to pay now; negative: to be refunded)."""
    pledge = access_pledge(user, pledge_id)
    campaign = pledge.campaign
    new_quantity = quantity_clean(quantity) if quantity not in (None, "") else pledge.quantity
    variant = variant_get(campaign, variant_id) if variant_id not in (None, "") else None
    campaign_open_check(campaign)
    if pledge.status != PledgeStatus.ACTIVE:
        raise Conflict(_("Only an active pledge can be changed."), code="pledge_not_active")
    by_limit, by_cap = _bounds(pledge)
    if by_limit is not None and new_quantity > by_limit:
        raise Conflict(
            _("At most %(n)d per fan in this campaign.") % {"n": campaign.per_fan_limit},
            code="per_fan_limit",
            detail={"per_fan_limit": campaign.per_fan_limit, "max_quantity": by_limit},
        )
    if by_cap is not None and new_quantity > by_cap:
        raise Conflict(
            _("Sold out: not enough left under the cap."), code="sold_out", detail={"max_quantity": by_cap}
        )
    deposit = deposit_for(
        quantity=new_quantity, unit_price=pledge.unit_price, percent=campaign.deposit_percent
    )
    return {
        "pledge": pledge.pk,
        "quantity": new_quantity,
        "variant": variant.pk if variant else pledge.variant_id,
        "variant_name": variant.name if variant else pledge.variant_name,
        "deposit_amount": str(deposit),
        "difference": str(deposit - pledge.deposit_amount),
        "max_quantity": max_quantity((by_limit, by_cap)),
        "currency": pledge.currency,
    }


def pledge_cancel_quote(*, user: AbstractBaseUser, pledge_id: int) -> dict[str, Any]:
    """What cancelling now would refund (from the ledger), or the coded reason it cannot be cancelled."""
    pledge = access_pledge(user, pledge_id)
    campaign_open_check(pledge.campaign)
    if pledge.status not in (PledgeStatus.ACTIVE, PledgeStatus.PAUSED):
        raise Conflict(_("This pledge cannot be cancelled now."), code="pledge_not_active")
    return {
        "pledge": pledge.pk,
        "refund_amount": str(cancel_refund_amount(pledge)),
        "currency": pledge.currency,
    }
