"""The fruit box: owners compose it, fans change theirs before each cut-off, and cancels meet an offer.

A fan's change locks the next open cycle (the row cycle_cut locks) and then the pledge, and checks the cut-off
inside that transaction: a change either lands before the cut or is refused with past_cutoff, never half in.
Every input is checked before the first write. cycle_cut asks box_cycle_plan which biweekly fans are off.
"""

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid, Unprocessable
from preorders.access import access_pledge
from preorders.box_models import (
    MAX_DELAY_DAYS,
    BoxItem,
    BoxSize,
    BoxSwap,
    CycleChange,
    CycleChangeKind,
    Frequency,
    SubscriptionPrefs,
)
from preorders.box_selectors import (
    box_choices_get,
    box_plan_for_cycle,
    is_off_week,
    pledge_box_get,
    swap_valid,
)
from preorders.models import (
    Cadence,
    Campaign,
    CycleStatus,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
    SubscriptionSkip,
)
from preorders.money import money_round

# A module import: subscriptions imports box_cycle_plan from here for cycle_cut.
from preorders.services import subscriptions

UNSET: Any = object()
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,18}[0-9]$")
PRICE_MAX = Decimal("9999999999.99")


# --- input ------------------------------------------------------------------------------------------------


def _whole(value: Any, *, lo: int, hi: int, code: str, message: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(message, code=code) from None
    if not lo <= number <= hi:
        raise Invalid(message, code=code)
    return number


def _text(value: Any, *, max_length: int, code: str, message: str, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        raise Invalid(message, code=code)
    text = value.strip()
    if (required and not text) or len(text) > max_length:
        raise Invalid(message, code=code)
    return text


def _price(value: Any) -> Decimal:
    message = _("The unit price must be an amount of at least 0 with at most two decimals.")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(message, code="box_item_price_invalid")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid(message, code="box_item_price_invalid") from None
    if not price.is_finite() or price < 0 or price > PRICE_MAX or money_round(price) != price:
        raise Invalid(message, code="box_item_price_invalid")
    return money_round(price)


def _id(value: Any, *, code: str, message: str) -> int:
    return _whole(value, lo=1, hi=2**63 - 1, code=code, message=message)


# --- the fan's changes --------------------------------------------------------------------------------------


def _open_cycle_locked(campaign_id: int) -> SubscriptionCycle:
    """The next box still open for changes, locked against its cut-off for this transaction."""
    cycle = (
        SubscriptionCycle.objects.select_for_update()
        .filter(campaign_id=campaign_id, status=CycleStatus.OPEN, cutoff_at__gt=timezone.now())
        .order_by("number")
        .first()
    )
    if cycle is None:
        raise Conflict(_("The cut-off for the next box has passed."), code="past_cutoff")
    return cycle


@contextmanager
def _box_change(
    user: AbstractBaseUser, pledge_id: int, *, receiving: bool = False
) -> Iterator[tuple[Pledge, SubscriptionCycle]]:
    """One fan change in one transaction: the fan's own running subscription, the next cycle before its
    cut-off, and (receiving) a box that actually comes in that cycle."""
    pledge = subscriptions._subscription(user, pledge_id)  # 404 for others, not_subscription, campaign_closed
    with transaction.atomic(durable=True):
        cycle = _open_cycle_locked(pledge.campaign_id)
        pledge = access_pledge(user, pledge_id, lock=True)
        if pledge.status not in (PledgeStatus.ACTIVE, PledgeStatus.PAUSED):
            raise Conflict(_("This subscription is not running."), code="pledge_not_active")
        if receiving:
            _receiving_check(pledge, cycle)
        yield pledge, cycle


def _receiving_check(pledge: Pledge, cycle: SubscriptionCycle) -> None:
    if pledge.status != PledgeStatus.ACTIVE:
        raise Conflict(_("Only an active subscription can change its next box."), code="pledge_not_active")
    skipped = SubscriptionSkip.objects.filter(pledge=pledge, cycle=cycle).exists()
    if skipped or is_off_week(box_choices_get(pledge.pk), cycle.number):
        raise Conflict(
            _("Your next box is not coming (skipped or an off week), so there is nothing to change."),
            code="no_box_this_cycle",
        )


def _prefs(pledge: Pledge) -> SubscriptionPrefs:
    return SubscriptionPrefs.objects.get_or_create(pledge=pledge)[0]


def box_prefs_update(
    *, user: AbstractBaseUser, pledge_id: int, never: Any = UNSET, box_size: Any = UNSET
) -> dict[str, Any]:
    """The never-list (items that must not come; an equal-price option stands in when there is one) and
    the box size."""
    if never is UNSET and box_size is UNSET:
        raise Invalid(_("Nothing to change."), code="invalid")
    if box_size is not UNSET and box_size not in BoxSize.values:
        raise Invalid(_("The box size must be standard or small."), code="box_size_invalid")
    message = _("The never-list must be a list of this box's items.")
    if never is not UNSET and not isinstance(never, list):
        raise Invalid(message, code="never_invalid")
    never_ids = set() if never is UNSET else {_id(v, code="never_invalid", message=message) for v in never}
    with _box_change(user, pledge_id) as (pledge, _cycle):
        if never_ids:
            known = set(
                BoxItem.objects.filter(campaign_id=pledge.campaign_id, pk__in=never_ids).values_list(
                    "pk", flat=True
                )
            )
            if known != never_ids:
                raise Invalid(message, code="never_invalid", detail={"unknown": sorted(never_ids - known)})
        prefs = _prefs(pledge)
        if box_size is not UNSET and prefs.box_size != box_size:
            prefs.box_size = box_size
            prefs.save(update_fields=["box_size", "updated_at"])
        if never is not UNSET:
            prefs.never_items.set(never_ids)
            # A swap to something now on the never-list would never come: drop it rather than keep it dead.
            BoxSwap.objects.filter(pledge=pledge, option_id__in=never_ids).delete()
    return pledge_box_get(pledge)


def box_swap(*, user: AbstractBaseUser, pledge_id: int, item_id: Any, option_id: Any) -> dict[str, Any]:
    """Swap a standard item for an option of equal unit price in this campaign; no option: swap back."""
    item_pk = _id(item_id, code="box_item_invalid", message=_("That item is not in this box."))
    option_pk = (
        None
        if option_id in (None, "")
        else _id(option_id, code="box_option_invalid", message=_("That is not one of this box's options."))
    )
    with _box_change(user, pledge_id) as (pledge, _cycle):
        item = BoxItem.objects.filter(pk=item_pk, campaign_id=pledge.campaign_id, is_default=True).first()
        if item is None:
            raise Invalid(_("That item is not in this box."), code="box_item_invalid")
        if option_pk is None:
            BoxSwap.objects.filter(pledge=pledge, item=item).delete()
        else:
            _swap_check(pledge, item, option_pk)
            BoxSwap.objects.update_or_create(pledge=pledge, item=item, defaults={"option_id": option_pk})
    return pledge_box_get(pledge)


def _swap_check(pledge: Pledge, item: BoxItem, option_pk: int) -> None:
    option = BoxItem.objects.filter(pk=option_pk, campaign_id=pledge.campaign_id, is_default=False).first()
    if option is None:
        raise Invalid(_("That is not one of this box's options."), code="box_option_invalid")
    if not swap_valid(item, option):
        raise Unprocessable(
            _("%(item)s can only be swapped for an option of the same price (¥%(price)s).")
            % {"item": item.name, "price": item.unit_price},
            code="swap_price_mismatch",
            detail={"item_price": str(item.unit_price), "option_price": str(option.unit_price)},
        )
    if option.pk in box_choices_get(pledge.pk).never:
        raise Unprocessable(
            _("%(option)s is on your never-list.") % {"option": option.name}, code="swap_option_never"
        )


def _frequency_apply(pledge: Pledge, cycle: SubscriptionCycle, frequency: str) -> None:
    if pledge.campaign.cadence != Cadence.WEEKLY:
        raise Conflict(_("Only a weekly box can change how often it comes."), code="frequency_unavailable")
    prefs = _prefs(pledge)
    if prefs.frequency == frequency:
        return  # asking again keeps the rhythm it already has
    prefs.frequency = frequency
    prefs.frequency_from = cycle.number if frequency == Frequency.BIWEEKLY else None
    prefs.save(update_fields=["frequency", "frequency_from", "updated_at"])


def box_frequency_set(*, user: AbstractBaseUser, pledge_id: int, frequency: Any) -> dict[str, Any]:
    """Weekly or every two weeks (weekly campaigns only): a biweekly fan gets the next box, then every
    second one."""
    if frequency not in Frequency.values:
        raise Invalid(_("The frequency must be weekly or biweekly."), code="frequency_invalid")
    with _box_change(user, pledge_id) as (pledge, cycle):
        _frequency_apply(pledge, cycle, frequency)
    return pledge_box_get(pledge)


def _next_delivery(campaign: Campaign, cycle: SubscriptionCycle) -> dt.datetime | None:
    if campaign.cycles is not None and cycle.number >= campaign.cycles:
        return None
    return subscriptions.delivery_at(campaign, cycle.number + 1)


def box_delay(*, user: AbstractBaseUser, pledge_id: int, days: Any) -> dict[str, Any]:
    """Deliver the next box 1 to 6 days later (one delay per box; asking again changes it)."""
    n = _whole(
        days,
        lo=1,
        hi=MAX_DELAY_DAYS,
        code="delay_days_invalid",
        message=_("A delay is 1 to %(n)s days.") % {"n": MAX_DELAY_DAYS},
    )
    with _box_change(user, pledge_id, receiving=True) as (pledge, cycle):
        following = _next_delivery(pledge.campaign, cycle)
        if following is not None and cycle.delivery_at + dt.timedelta(days=n) >= following:
            raise Unprocessable(
                _("A box cannot be delayed past the next one's delivery."), code="delay_too_long"
            )
        CycleChange.objects.update_or_create(
            pledge=pledge, cycle=cycle, kind=CycleChangeKind.DELAY, defaults={"delay_days": n}
        )
    return pledge_box_get(pledge)


def box_gift(
    *, user: AbstractBaseUser, pledge_id: int, name: Any, phone: Any, address: Any, message: Any = ""
) -> dict[str, Any]:
    """Send the next box to someone else (one gift per box; asking again changes the address)."""
    name = _text(name, max_length=50, code="gift_name_required", message=_("Who is the gift for?"))
    raw_phone = _text(phone, max_length=20, code="gift_phone_invalid", message=_("Give a phone number."))
    if not PHONE.match(raw_phone):
        raise Invalid(_("Give a phone number."), code="gift_phone_invalid")
    address = _text(address, max_length=200, code="gift_address_required", message=_("Give the address."))
    note = _text(
        message,
        max_length=200,
        code="gift_message_invalid",
        message=_("A gift card is at most 200 characters."),
        required=False,
    )
    with _box_change(user, pledge_id, receiving=True) as (pledge, cycle):
        CycleChange.objects.update_or_create(
            pledge=pledge,
            cycle=cycle,
            kind=CycleChangeKind.GIFT,
            defaults={
                "gift_name": name,
                "gift_phone": raw_phone,
                "gift_address": address,
                "gift_message": note,
            },
        )
    return pledge_box_get(pledge)


def box_change_remove(*, user: AbstractBaseUser, pledge_id: int, kind: str) -> dict[str, Any]:
    """Undo the next box's delay or gift."""
    with _box_change(user, pledge_id) as (pledge, cycle):
        CycleChange.objects.filter(pledge=pledge, cycle=cycle, kind=kind).delete()
    return pledge_box_get(pledge)


# --- the cut-off ----------------------------------------------------------------------------------------------


def box_cycle_plan(cycle: SubscriptionCycle) -> dict[str, Any]:
    """For cycle_cut: {"excluded": pledge ids with no box this cycle (biweekly off-weeks), "contents":
    {pledge_id: [(item_name, quantity per box, unit_price)]}, "small": pledge ids with the half-price box}."""
    return box_plan_for_cycle(cycle)
