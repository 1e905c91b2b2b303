"""Reads for the fruit box: what is in a fan's next box, the week's ripeness calendar, delivery notes.

A box is worked out, never stored: the campaign's standard items, then the fan's swaps (an option of equal
unit price in the item's place, with the item's quantity), then the never-list (an excluded item gives way to
an equal-price option when one exists, or leaves the box), then the size (a small box halves each quantity,
rounding up, and the price).
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count
from django.utils import timezone

from preorders.box_models import (
    BOX_DAYS,
    BoxItem,
    BoxSize,
    BoxSwap,
    CancelReason,
    CycleChange,
    CycleChangeKind,
    Frequency,
    RetentionOffer,
    RetentionOutcome,
    SubscriptionPrefs,
)
from preorders.models import (
    Cadence,
    Campaign,
    CycleDelivery,
    CycleStatus,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
    SubscriptionSkip,
)
from preorders.money import money_round
from preorders.selectors import campaign_current_unit_price


@dataclass(frozen=True)
class BoxLine:
    """One fruit in a box: `replaces` is the standard item it stands in for (a swap or a never-list)."""

    item_id: int
    name: str
    quantity: int
    unit_price: Decimal
    ripen_days: int
    replaces: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item_id,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": str(self.unit_price),
            "ripen_days": self.ripen_days,
            "replaces": self.replaces,
        }

    def as_tuple(self) -> tuple[str, int, Decimal]:
        return (self.name, self.quantity, self.unit_price)


@dataclass(frozen=True)
class BoxChoices:
    """A fan's standing choices (the defaults when they have no SubscriptionPrefs row)."""

    frequency: str = Frequency.WEEKLY
    frequency_from: int | None = None
    box_size: str = BoxSize.STANDARD
    never: frozenset[int] = frozenset()
    swaps: tuple[tuple[int, int], ...] = ()  # (standard item id, option id)


def box_item_list(*, campaign_id: int) -> list[BoxItem]:
    return list(BoxItem.objects.filter(campaign_id=campaign_id).order_by("position", "pk"))


def box_item_to_dict(item: BoxItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "campaign": item.campaign_id,
        "name": item.name,
        "unit_price": str(item.unit_price),
        "ripen_days": item.ripen_days,
        "quantity": item.quantity,
        "is_default": item.is_default,
        "position": item.position,
    }


def box_choices_get(pledge_id: int) -> BoxChoices:
    prefs = SubscriptionPrefs.objects.filter(pledge_id=pledge_id).prefetch_related("never_items").first()
    swaps = tuple(
        BoxSwap.objects.filter(pledge_id=pledge_id).order_by("pk").values_list("item_id", "option_id")
    )
    if prefs is None:
        return BoxChoices(swaps=swaps)
    return BoxChoices(
        frequency=prefs.frequency,
        frequency_from=prefs.frequency_from,
        box_size=prefs.box_size,
        never=frozenset(i.pk for i in prefs.never_items.all()),
        swaps=swaps,
    )


def swap_valid(item: BoxItem | None, option: BoxItem | None) -> bool:
    """The swap rule: a standard item for an option of the same campaign at exactly the same unit price."""
    return (
        item is not None
        and option is not None
        and item.is_default
        and not option.is_default
        and item.campaign_id == option.campaign_id
        and item.unit_price == option.unit_price
    )


def _half(quantity: int) -> int:
    return max(1, (quantity + 1) // 2)


def box_contents(items: list[BoxItem], choices: BoxChoices) -> list[BoxLine]:
    """The box a fan gets: standard items, their swaps, the never-list and the size (see the module doc)."""
    by_id = {i.pk: i for i in items}
    options = [i for i in items if not i.is_default]
    swaps = dict(choices.swaps)
    lines: list[BoxLine] = []
    used: set[int] = set()
    for item in (i for i in items if i.is_default):
        chosen: BoxItem | None = item
        swapped = by_id.get(swaps.get(item.pk, 0))
        if swap_valid(item, swapped) and swapped.pk not in choices.never:
            chosen = swapped
        elif item.pk in choices.never:
            equal = [o for o in options if o.unit_price == item.unit_price and o.pk not in choices.never]
            # A substitute not in the box yet, or else the first equal-price one.
            chosen = next((o for o in equal if o.pk not in used), equal[0] if equal else None)
        if chosen is None:
            continue
        used.add(chosen.pk)
        quantity = _half(item.quantity) if choices.box_size == BoxSize.SMALL else item.quantity
        lines.append(
            BoxLine(
                item_id=chosen.pk,
                name=chosen.name,
                quantity=quantity,
                unit_price=chosen.unit_price,
                ripen_days=chosen.ripen_days,
                replaces=None if chosen.pk == item.pk else item.pk,
            )
        )
    return _merged(lines)


def _merged(lines: list[BoxLine]) -> list[BoxLine]:
    """Two slots holding the same fruit (two swaps to one option) become one line."""
    out: dict[int, BoxLine] = {}
    for line in lines:
        seen = out.get(line.item_id)
        if seen is None:
            out[line.item_id] = line
        else:
            out[line.item_id] = BoxLine(
                item_id=seen.item_id,
                name=seen.name,
                quantity=seen.quantity + line.quantity,
                unit_price=seen.unit_price,
                ripen_days=seen.ripen_days,
                replaces=seen.replaces,
            )
    return list(out.values())


def standard_box(items: list[BoxItem]) -> list[BoxLine]:
    return box_contents(items, BoxChoices())


def box_value(lines: list[BoxLine]) -> Decimal:
    return money_round(sum((line.unit_price * line.quantity for line in lines), Decimal("0")))


def box_unit_price(campaign: Campaign, box_size: str) -> Decimal:
    """What one box costs this fan this cycle: the campaign's price, halved for a small box."""
    price = campaign_current_unit_price(campaign)
    return money_round(price / 2) if box_size == BoxSize.SMALL else price


def is_off_week(choices: BoxChoices, cycle_number: int) -> bool:
    """A biweekly fan gets the cycle they changed at and every second one after it."""
    if choices.frequency != Frequency.BIWEEKLY or choices.frequency_from is None:
        return False
    return cycle_number >= choices.frequency_from and (cycle_number - choices.frequency_from) % 2 == 1


def box_next_cycle(campaign_id: int) -> SubscriptionCycle | None:
    """The next box still to be cut (its cut-off may be passing right now)."""
    return (
        SubscriptionCycle.objects.filter(campaign_id=campaign_id, status=CycleStatus.OPEN)
        .order_by("number")
        .first()
    )


def _cycle_changes(pledge_id: int, cycle_id: int) -> dict[str, CycleChange]:
    return {c.kind: c for c in CycleChange.objects.filter(pledge_id=pledge_id, cycle_id=cycle_id)}


def box_calendar(
    campaign: Campaign, cycle: SubscriptionCycle | None = None, pledge: Pledge | None = None
) -> dict[str, Any]:
    """The week from a delivery, day 0 to day 6: what is ready to eat each day (from its ripen day on, at
    its best on that day), and the gap days with nothing ready. The standard box, or a fan's own box (after
    their swaps, never-list and size, starting on their delayed delivery day)."""
    cycle = cycle or box_next_cycle(campaign.pk)
    items = box_item_list(campaign_id=campaign.pk)
    if pledge is None:
        return _calendar(campaign, cycle, standard_box(items), delay=None)
    changes = _cycle_changes(pledge.pk, cycle.pk) if cycle else {}
    lines = box_contents(items, box_choices_get(pledge.pk))
    return _calendar(campaign, cycle, lines, delay=changes.get(CycleChangeKind.DELAY))


def _calendar(
    campaign: Campaign, cycle: SubscriptionCycle | None, lines: list[BoxLine], *, delay: CycleChange | None
) -> dict[str, Any]:
    delivered = cycle.delivery_at if cycle else campaign.deadline
    if delay is not None:
        delivered += dt.timedelta(days=delay.delay_days)
    return calendar_for(lines, timezone.localtime(delivered).date(), cycle=cycle)


def calendar_for(
    lines: list[BoxLine], first_day: dt.date, *, cycle: SubscriptionCycle | None
) -> dict[str, Any]:
    days = []
    for day in range(BOX_DAYS):
        ready = [
            {
                "item": line.item_id,
                "name": line.name,
                "quantity": line.quantity,
                "best": line.ripen_days == day,
            }
            for line in sorted(lines, key=lambda x: (-x.ripen_days, x.name))
            if line.ripen_days <= day
        ]
        days.append({"day": day, "date": (first_day + dt.timedelta(days=day)).isoformat(), "ready": ready})
    return {
        "cycle": cycle.number if cycle else None,
        "delivery_date": first_day.isoformat(),
        "days": days,
        "gaps": [d["day"] for d in days if not d["ready"]],
        "contents": [line.as_dict() for line in lines],
    }


def _swap_choices(items: list[BoxItem], never: frozenset[int]) -> dict[str, list[int]]:
    """For each standard item, the options a fan may swap it for (equal price, not on their never-list)."""
    options = [i for i in items if not i.is_default and i.pk not in never]
    return {str(item.pk): [o.pk for o in options if swap_valid(item, o)] for item in items if item.is_default}


def pledge_box_get(pledge: Pledge) -> dict[str, Any]:
    """A fan's box: their choices, the next cycle and whether it comes, its changes, contents and calendar."""
    campaign = pledge.campaign
    items = box_item_list(campaign_id=campaign.pk)
    choices = box_choices_get(pledge.pk)
    cycle = box_next_cycle(campaign.pk)
    changes = _cycle_changes(pledge.pk, cycle.pk) if cycle else {}
    why_not = None
    if pledge.status == PledgeStatus.PAUSED:
        why_not = "paused"
    elif pledge.status != PledgeStatus.ACTIVE:
        why_not = pledge.status
    elif cycle is not None and SubscriptionSkip.objects.filter(pledge=pledge, cycle=cycle).exists():
        why_not = "skipped"
    elif cycle is not None and is_off_week(choices, cycle.number):
        why_not = "off_week"
    delay = changes.get(CycleChangeKind.DELAY)
    gift = changes.get(CycleChangeKind.GIFT)
    return {
        "pledge": pledge.pk,
        "campaign": campaign.pk,
        "status": pledge.status,
        "boxes": pledge.quantity,
        "frequency": choices.frequency,
        "frequency_from": choices.frequency_from,
        "can_change_frequency": campaign.cadence == Cadence.WEEKLY,
        "box_size": choices.box_size,
        "never": sorted(choices.never),
        "swaps": [{"item": item, "option": option} for item, option in choices.swaps],
        "cycle": None
        if cycle is None
        else {
            "id": cycle.pk,
            "number": cycle.number,
            "delivery_at": cycle.delivery_at.isoformat(),
            "cutoff_at": cycle.cutoff_at.isoformat(),
            "changeable": cycle.cutoff_at > timezone.now(),
        },
        "receives": why_not is None,
        "why_not": why_not,
        "delay": None if delay is None else {"days": delay.delay_days},
        "gift": None
        if gift is None
        else {
            "name": gift.gift_name,
            "phone": gift.gift_phone,
            "address": gift.gift_address,
            "message": gift.gift_message,
        },
        "unit_price": str(box_unit_price(campaign, choices.box_size)),
        "currency": campaign.currency,
        "items": [box_item_to_dict(i) for i in items],
        "swap_choices": _swap_choices(items, choices.never),
        "calendar": _calendar(campaign, cycle, box_contents(items, choices), delay=delay),
    }


def campaign_box_get(campaign: Campaign) -> dict[str, Any]:
    """The owner's view: every item, the standard box's value against its price, and its calendar."""
    items = box_item_list(campaign_id=campaign.pk)
    lines = standard_box(items)
    return {
        "campaign": campaign.pk,
        "items": [box_item_to_dict(i) for i in items],
        "box_value": str(box_value(lines)),
        "unit_price": str(campaign_current_unit_price(campaign)),
        "currency": campaign.currency,
        "calendar": _calendar(campaign, box_next_cycle(campaign.pk), lines, delay=None),
    }


def box_plan_for_cycle(cycle: SubscriptionCycle) -> dict[str, Any]:
    """Every active subscription's choices for one cycle: who is off this week and what each box holds."""
    pledge_ids = list(
        Pledge.objects.filter(campaign_id=cycle.campaign_id, status=PledgeStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    prefs = {
        p.pledge_id: p
        for p in SubscriptionPrefs.objects.filter(pledge_id__in=pledge_ids).only(
            "pledge_id", "frequency", "frequency_from", "box_size"
        )
    }
    never: dict[int, set[int]] = {}
    through = SubscriptionPrefs.never_items.through
    for pledge_id, item_id in through.objects.filter(subscriptionprefs_id__in=list(prefs)).values_list(
        "subscriptionprefs_id", "boxitem_id"
    ):
        never.setdefault(pledge_id, set()).add(item_id)
    swaps: dict[int, list[tuple[int, int]]] = {}
    for pledge_id, item_id, option_id in (
        BoxSwap.objects.filter(pledge_id__in=pledge_ids)
        .order_by("pk")
        .values_list("pledge_id", "item_id", "option_id")
    ):
        swaps.setdefault(pledge_id, []).append((item_id, option_id))
    items = box_item_list(campaign_id=cycle.campaign_id)
    excluded: set[int] = set()
    contents: dict[int, list[tuple[str, int, Decimal]]] = {}
    small: set[int] = set()
    for pledge_id in pledge_ids:
        p = prefs.get(pledge_id)
        choices = BoxChoices(
            frequency=p.frequency if p else Frequency.WEEKLY,
            frequency_from=p.frequency_from if p else None,
            box_size=p.box_size if p else BoxSize.STANDARD,
            never=frozenset(never.get(pledge_id, ())),
            swaps=tuple(swaps.get(pledge_id, ())),
        )
        if is_off_week(choices, cycle.number):
            excluded.add(pledge_id)
            continue
        if choices.box_size == BoxSize.SMALL:
            small.add(pledge_id)
        if items:
            contents[pledge_id] = [line.as_tuple() for line in box_contents(items, choices)]
    return {"excluded": excluded, "contents": contents, "small": small}


DELIVERY_NOTE_COLUMNS = (
    "pledge",
    "boxes",
    "delay_days",
    "deliver_on",
    "gift_name",
    "gift_phone",
    "gift_address",
    "gift_message",
)


def cycle_delivery_notes(cycle: SubscriptionCycle) -> list[dict[str, Any]]:
    """Delays and gifts on one cycle's boxes, for the factory order (once cut, only boxes that go out)."""
    changes = CycleChange.objects.filter(cycle=cycle).select_related("pledge").order_by("pledge_id", "kind")
    if cycle.status == CycleStatus.CUT:
        changes = changes.filter(pledge_id__in=CycleDelivery.objects.filter(cycle=cycle).values("pledge_id"))
    notes: dict[int, dict[str, Any]] = {}
    for change in changes:
        note = notes.setdefault(
            change.pledge_id,
            {
                "pledge": change.pledge_id,
                "boxes": change.pledge.quantity,
                "delay_days": 0,
                "deliver_on": timezone.localtime(cycle.delivery_at).date(),
                "gift_name": "",
                "gift_phone": "",
                "gift_address": "",
                "gift_message": "",
            },
        )
        if change.kind == CycleChangeKind.DELAY:
            note["delay_days"] = change.delay_days
            note["deliver_on"] = timezone.localtime(
                cycle.delivery_at + dt.timedelta(days=change.delay_days)
            ).date()
        else:
            note.update(
                gift_name=change.gift_name,
                gift_phone=change.gift_phone,
                gift_address=change.gift_address,
                gift_message=change.gift_message,
            )
    return list(notes.values())


def retention_summary(campaign: Campaign) -> list[dict[str, Any]]:
    """Why fans tried to leave and how the offers went, by reason (the owner's box page)."""
    rows = (
        RetentionOffer.objects.filter(pledge__campaign=campaign)
        .values("reason", "outcome")
        .annotate(n=Count("pk"))
    )
    counts = {(r["reason"], r["outcome"]): r["n"] for r in rows}
    return [
        {
            "reason": reason.value,
            "label": str(reason.label),
            **{outcome.value: counts.get((reason.value, outcome.value), 0) for outcome in RetentionOutcome},
        }
        for reason in CancelReason
    ]
