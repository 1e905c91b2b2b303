"""Cancelling a subscription with a reason: the retention offer that fits it (too much fruit -> every two
weeks, away -> skip, price -> the small box), and accepting it."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from preorders.box_models import (
    OFFER_FOR_REASON,
    BoxSize,
    CancelReason,
    Frequency,
    RetentionOffer,
    RetentionOfferKind,
    RetentionOutcome,
)
from preorders.box_selectors import (
    box_choices_get,
    box_unit_price,
    pledge_box_get,
)
from preorders.models import (
    Cadence,
    Pledge,
    PledgeStatus,
    SubscriptionSkip,
)
from preorders.services import subscriptions
from preorders.services.fruit_box import _box_change, _frequency_apply, _prefs, _text

# --- cancelling with a reason ---------------------------------------------------------------------------------


def _offer_fits(pledge: Pledge, kind: str) -> bool:
    """Whether the offer for a reason can be taken now (before the cut-off, and not already so)."""
    try:
        cycle = subscriptions._next_open_cycle(pledge.campaign_id)
    except Conflict:  # past the cut-off: nothing can change before the next box
        return False
    choices = box_choices_get(pledge.pk)
    if kind == RetentionOfferKind.BIWEEKLY:
        return pledge.campaign.cadence == Cadence.WEEKLY and choices.frequency != Frequency.BIWEEKLY
    if kind == RetentionOfferKind.SKIP:
        return (
            pledge.status == PledgeStatus.ACTIVE
            and not SubscriptionSkip.objects.filter(pledge=pledge, cycle=cycle).exists()
        )
    return choices.box_size != BoxSize.SMALL


def _offer_message(pledge: Pledge, offer: str) -> str:
    if offer == RetentionOfferKind.BIWEEKLY:
        return _("Too much fruit? Keep your subscription and get a box every two weeks instead.")
    if offer == RetentionOfferKind.SKIP:
        return _("Going away? Skip the next box instead; your subscription waits for you.")
    if offer == RetentionOfferKind.SMALL_BOX:
        return _("A smaller box at half the price: ¥%(small)s a box instead of ¥%(full)s.") % {
            "small": box_unit_price(pledge.campaign, BoxSize.SMALL),
            "full": box_unit_price(pledge.campaign, BoxSize.STANDARD),
        }
    return _("Sorry to see you go. If you cancel, your deposit is refunded.")


def retention_offer_make(
    *, user: AbstractBaseUser, pledge_id: int, reason: Any, note: Any = ""
) -> dict[str, Any]:
    """A fan says why they want to cancel; answer the offer that fits the reason (or none) and record it."""
    if reason not in CancelReason.values:
        raise Invalid(_("Pick a reason."), code="reason_invalid")
    note = _text(
        note, max_length=200, code="note_invalid", message=_("The note is too long."), required=False
    )
    pledge = subscriptions._subscription(user, pledge_id)
    if pledge.status not in (PledgeStatus.ACTIVE, PledgeStatus.PAUSED):
        raise Conflict(_("This subscription is not running."), code="pledge_not_active")
    kind = OFFER_FOR_REASON.get(reason)
    offer = kind if kind is not None and _offer_fits(pledge, kind) else ""
    record = RetentionOffer.objects.create(pledge=pledge, reason=reason, note=note, offer=offer)
    return {
        "id": record.pk,
        "reason": reason,
        "offer": offer or None,
        "message": _offer_message(pledge, offer),
    }


def retention_offer_accept(*, user: AbstractBaseUser, pledge_id: int) -> dict[str, Any]:
    """Take the offer last shown (every two weeks, skip the next box, or a small box) instead of cancelling."""
    with _box_change(user, pledge_id) as (pledge, cycle):
        record = (
            RetentionOffer.objects.select_for_update()
            .filter(pledge=pledge, outcome=RetentionOutcome.SHOWN)
            .order_by("-created_at", "-pk")
            .first()
        )
        if record is None or not record.offer:
            raise Conflict(_("There is no offer to accept."), code="no_offer")
        if record.offer == RetentionOfferKind.BIWEEKLY:
            _frequency_apply(pledge, cycle, Frequency.BIWEEKLY)
        elif record.offer == RetentionOfferKind.SKIP:
            subscriptions.subscription_skip(user=user, pledge_id=pledge.pk)
        else:
            prefs = _prefs(pledge)
            prefs.box_size = BoxSize.SMALL
            prefs.save(update_fields=["box_size", "updated_at"])
        record.outcome = RetentionOutcome.ACCEPTED
        record.decided_at = timezone.now()
        record.save(update_fields=["outcome", "decided_at"])
    accepted = {
        RetentionOfferKind.BIWEEKLY: _("Done: your box now comes every two weeks."),
        RetentionOfferKind.SKIP: _("Done: the next box is skipped."),
        RetentionOfferKind.SMALL_BOX: _("Done: you get the small box from the next delivery."),
    }
    return {"offer": record.offer, "message": accepted[record.offer], "box": pledge_box_get(pledge)}
