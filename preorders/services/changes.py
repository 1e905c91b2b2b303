"""Changing and cancelling pledges before the deadline (or a subscription while it runs).

As placement: the quantity moves under the fan's row lock in a short transaction, the provider is called
with no locks held, and the ledger records the outcome; a failed extra charge puts the pledge back.
"""

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from fans.chat.models import Fan
from payments.ledger import cash_in, ledger_post
from payments.models import TransactionKind
from payments.provider import ChargeRequest, PaymentError, PaymentTimeout, payment_provider
from preorders.access import access_pledge
from preorders.models import Campaign, Pledge, PledgeStatus, RetentionOffer
from preorders.money import deposit_for
from preorders.services.change_quote import cancel_refund_amount
from preorders.services.events import progress_announce
from preorders.services.payments import PaymentFailed, ledger_refund, pledge_dims
from preorders.services.pledge_rules import campaign_open_check, pledge_to_dict, quantity_clean, variant_get
from preorders.services.reservation import fan_limit_check, fan_lock, release, reserve


def _fan_count_add(fan_id: int, delta: int) -> None:
    if not delta:
        return
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            f"UPDATE {Fan._meta.db_table} SET pledge_count = pledge_count + %s WHERE id = %s AND pledge_count + %s >= 0",
            [delta, fan_id, delta],
        )


# A change whose money step has not finished after this long died with its process: it no longer blocks.
CHANGE_STALE = dt.timedelta(minutes=2)


def change_in_progress_check(pledge: Pledge) -> None:
    """Under the fan's lock: refuse while another change of this pledge is still charging or refunding."""
    started = pledge.change_started_at
    if started is not None and started > timezone.now() - CHANGE_STALE:
        raise Conflict(
            _("Another change of this pledge is still being paid; try again in a moment."),
            code="change_in_progress",
        )


def _campaign_snapshot(campaign_id: int) -> Campaign:
    return Campaign.objects.prefetch_related("tiers").get(pk=campaign_id)


def pledge_change(
    *, user: AbstractBaseUser, pledge_id: int, quantity: Any = None, variant_id: Any = None
) -> dict[str, Any]:
    """Change quantity and/or variant before the deadline; the deposit difference is charged or refunded."""
    if quantity is None and variant_id is None:
        raise Invalid(_("Nothing to change."), code="invalid")
    pledge = access_pledge(user, pledge_id)
    campaign = pledge.campaign
    new_quantity = quantity_clean(quantity) if quantity is not None else pledge.quantity
    variant = variant_get(campaign, variant_id) if variant_id is not None else None
    campaign_open_check(campaign)
    with transaction.atomic(durable=True):
        fan_lock(pledge.fan_id)
        pledge = access_pledge(user, pledge_id, lock=True)
        # The campaign may have closed while this request waited on the fan's lock.
        campaign_open_check(pledge.campaign)
        if pledge.status != PledgeStatus.ACTIVE:
            raise Conflict(_("Only an active pledge can be changed."), code="pledge_not_active")
        change_in_progress_check(pledge)
        old_quantity, old_deposit = pledge.quantity, pledge.deposit_amount
        old_variant = (pledge.variant_id, pledge.variant_name, pledge.sku)
        delta = new_quantity - old_quantity
        if delta > 0:
            fan_limit_check(campaign, pledge.fan_id, delta)
            reserve(campaign, delta)
        elif delta < 0:
            release(campaign.pk, -delta)
        if variant is not None:
            pledge.variant, pledge.variant_name, pledge.sku = variant, variant.name, variant.sku
        pledge.quantity = new_quantity
        pledge.deposit_amount = deposit_for(
            quantity=new_quantity, unit_price=pledge.unit_price, percent=campaign.deposit_percent
        )
        difference = pledge.deposit_amount - old_deposit
        started = timezone.now()
        # Money moves after the commit: mark the pledge so no other change or cancel starts meanwhile.
        pledge.change_started_at = started if difference else None
        pledge.save(
            update_fields=[
                "variant",
                "variant_name",
                "sku",
                "quantity",
                "deposit_amount",
                "change_started_at",
                "updated_at",
            ]
        )
    # One reference per change: a rerun of its refund or ledger posting finds the first.
    change_ref = f"pledge-{pledge.pk}-change-{int(started.timestamp() * 1_000_000)}"
    in_flight = Pledge.objects.filter(pk=pledge.pk, change_started_at=started)
    if difference > 0:
        try:
            result = payment_provider().charge(
                ChargeRequest(change_ref, difference, pledge.currency, user.pk), wait=True
            )
        except PaymentError as exc:
            if isinstance(exc, PaymentTimeout):
                payment_provider().void(reference=change_ref)
            with transaction.atomic(durable=True):
                # Put the pledge back as it was, only if nothing moved it since (a cancel, another change);
                # the reservation for the increase is released with it.
                restored = in_flight.filter(status=PledgeStatus.ACTIVE).update(
                    quantity=old_quantity,
                    deposit_amount=old_deposit,
                    variant_id=old_variant[0],
                    variant_name=old_variant[1],
                    sku=old_variant[2],
                    change_started_at=None,
                    updated_at=timezone.now(),
                )
                in_flight.update(change_started_at=None)
                if restored and delta > 0:
                    release(campaign.pk, delta)
            raise PaymentFailed(
                _("The extra deposit could not be charged; the pledge is unchanged.")
            ) from None
        ledger_post(
            cash_in(
                TransactionKind.DEPOSIT,
                change_ref,
                difference,
                provider_id=result.provider_id,
                memo="change",
                **pledge_dims(pledge),
            )
        )
        in_flight.update(change_started_at=None)
    elif difference < 0:
        try:
            ledger_refund(pledge=pledge, amount=-difference, reference=change_ref, note="change")
        finally:
            in_flight.update(change_started_at=None)
    with transaction.atomic():
        progress_announce(_campaign_snapshot(campaign.pk))
    return {**pledge_to_dict(pledge), "difference": str(difference)}


def pledge_cancel(*, user: AbstractBaseUser, pledge_id: int, reason: str = "") -> dict[str, Any]:
    """Cancel before the deadline (or a subscription while it runs); the whole deposit is refunded."""
    pledge = access_pledge(user, pledge_id)
    campaign_open_check(pledge.campaign)
    with transaction.atomic(durable=True):
        fan_lock(pledge.fan_id)
        pledge = access_pledge(user, pledge_id, lock=True)
        change_in_progress_check(pledge)
        if pledge.status not in (PledgeStatus.ACTIVE, PledgeStatus.PAUSED):
            raise Conflict(_("This pledge cannot be cancelled now."), code="pledge_not_active")
        pledge.status = PledgeStatus.CANCELLED
        pledge.cancel_reason = (reason or "").strip()[:200]
        pledge.save(update_fields=["status", "cancel_reason", "updated_at"])
        release(pledge.campaign_id, pledge.quantity)
        _fan_count_add(pledge.fan_id, -1)
        # fruit box: cancelling after a retention offer declines it
        RetentionOffer.objects.filter(pledge=pledge, outcome="shown").update(
            outcome="declined", decided_at=timezone.now()
        )
    refund = cancel_refund_amount(pledge)
    ledger_refund(
        pledge=pledge,
        amount=refund,
        reference=f"pledge-{pledge.pk}-cancel-refund",
        note="cancel",
    )
    with transaction.atomic():
        progress_announce(_campaign_snapshot(pledge.campaign_id))
    return {**pledge_to_dict(pledge), "refund_amount": str(refund)}
