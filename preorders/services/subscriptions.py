"""Subscription cycles: dates, cut-offs that turn active subscriptions into demand, and fan controls."""

import calendar
import datetime as dt
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict
from preorders.access import access_pledge
from preorders.models import (
    Cadence,
    Campaign,
    CampaignKind,
    CampaignStatus,
    CycleDelivery,
    CycleStatus,
    DeliveryStatus,
    Pledge,
    PledgeStatus,
    SubscriptionCycle,
    SubscriptionSkip,
)
from preorders.money import line_value, money_round
from preorders.selectors import campaign_current_unit_price
from preorders.services.changes import pledge_cancel
from preorders.services.events import progress_announce
from preorders.services.fruit_box import box_cycle_plan  # fruit box: off-week exclusion in cycle_cut
from preorders.services.pledge_rules import pledge_to_dict

logger = logging.getLogger(__name__)


def _add_months(when: dt.datetime, months: int) -> dt.datetime:
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def delivery_at(campaign: Campaign, number: int) -> dt.datetime:
    """Delivery of cycle `number` (1-based): the first is the campaign's deadline."""
    steps = number - 1
    if campaign.cadence == Cadence.WEEKLY:
        return campaign.deadline + dt.timedelta(weeks=steps)
    if campaign.cadence == Cadence.BIWEEKLY:
        return campaign.deadline + dt.timedelta(weeks=2 * steps)
    return _add_months(campaign.deadline, steps)


def cycle_ensure_next(campaign: Campaign) -> SubscriptionCycle | None:
    """Create the next cycle after the last one, or None when the campaign has run all its cycles."""
    last = SubscriptionCycle.objects.filter(campaign=campaign).order_by("-number").first()
    number = last.number + 1 if last else 1
    if campaign.cycles is not None and number > campaign.cycles:
        return None
    when = delivery_at(campaign, number)
    cycle, _created = SubscriptionCycle.objects.get_or_create(
        campaign=campaign,
        number=number,
        defaults={"delivery_at": when, "cutoff_at": when - dt.timedelta(hours=campaign.cutoff_hours)},
    )
    return cycle


def cycle_cut(*, cycle_id: int) -> SubscriptionCycle:
    """At the cut-off, this cycle's active, unskipped subscriptions become demand and a factory order."""
    with transaction.atomic(durable=True):
        cycle = SubscriptionCycle.objects.select_for_update().select_related("campaign").get(pk=cycle_id)
        if cycle.status != CycleStatus.OPEN or cycle.cutoff_at > timezone.now():
            return cycle
        campaign = Campaign.objects.select_for_update().prefetch_related("tiers").get(pk=cycle.campaign_id)
        unit_price = campaign_current_unit_price(campaign)
        skipped = SubscriptionSkip.objects.filter(cycle=cycle).values("pledge_id")
        plan = box_cycle_plan(cycle)  # fruit box: biweekly off-weeks and half-price small boxes
        small_price = money_round(unit_price / 2)
        subscriptions = (
            Pledge.objects.filter(
                campaign=campaign, status=PledgeStatus.ACTIVE, created_at__lte=cycle.cutoff_at
            )
            .exclude(pk__in=skipped)
            .exclude(pk__in=plan["excluded"])
            .values_list("pk", "quantity")
        )
        # Each box is charged after the commit (cycle_charging); only a paid box becomes demand.
        deliveries = []
        for pk, q in subscriptions:
            price = small_price if pk in plan["small"] else unit_price
            if line_value(quantity=q, unit_price=price) > 0:
                deliveries.append(
                    CycleDelivery(
                        pledge_id=pk,
                        cycle=cycle,
                        quantity=q,
                        unit_price=price,
                        amount=line_value(quantity=q, unit_price=price),
                        status=DeliveryStatus.CHARGING,
                    )
                )
        CycleDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=2000)
        cycle.status = CycleStatus.CUT
        cycle.quantity = 0  # counts paid boxes as their charges settle
        cycle.save(update_fields=["status", "quantity"])
        from preorders.tasks import cycle_charge_task

        cycle_charge_task.delay_on_commit(cycle.pk)
        if cycle_ensure_next(campaign) is None:
            Campaign.objects.filter(pk=campaign.pk).update(
                status=CampaignStatus.ENDED, closed_at=timezone.now()
            )
            campaign.status = CampaignStatus.ENDED
        progress_announce(campaign)
    return cycle


def subscription_cutoffs_run() -> list[int]:
    """Beat entry: cut every open cycle whose cut-off has passed (in time order)."""
    due = list(
        SubscriptionCycle.objects.filter(
            status=CycleStatus.OPEN, cutoff_at__lte=timezone.now(), campaign__status=CampaignStatus.LIVE
        )
        .order_by("cutoff_at", "pk")
        .values_list("pk", flat=True)
    )
    for cycle_id in due:
        try:
            cycle_cut(cycle_id=cycle_id)
        except Exception:  # noqa: BLE001 - the next run retries; one campaign must not block others
            logger.exception("cutting cycle %s failed", cycle_id)
    return due


def _subscription(user: AbstractBaseUser, pledge_id: int) -> Pledge:
    pledge = access_pledge(user, pledge_id)
    if pledge.campaign.kind != CampaignKind.SUBSCRIPTION:
        raise Conflict(_("This is not a subscription."), code="not_subscription")
    if pledge.campaign.status != CampaignStatus.LIVE:
        raise Conflict(_("This subscription has ended."), code="campaign_closed")
    return pledge


def _next_open_cycle(campaign_id: int) -> SubscriptionCycle:
    cycle = (
        SubscriptionCycle.objects.filter(
            campaign_id=campaign_id, status=CycleStatus.OPEN, cutoff_at__gt=timezone.now()
        )
        .order_by("number")
        .first()
    )
    if cycle is None:
        raise Conflict(_("The cut-off for the next box has passed."), code="past_cutoff")
    return cycle


def subscription_skip(*, user: AbstractBaseUser, pledge_id: int) -> dict[str, Any]:
    """Skip the next box (before its cut-off)."""
    pledge = _subscription(user, pledge_id)
    if pledge.status != PledgeStatus.ACTIVE:
        raise Conflict(_("Only an active subscription can skip a box."), code="pledge_not_active")
    cycle = _next_open_cycle(pledge.campaign_id)
    SubscriptionSkip.objects.get_or_create(pledge=pledge, cycle=cycle)
    return {**pledge_to_dict(pledge), "skipped_cycle": cycle.number}


def _status_move(user: AbstractBaseUser, pledge_id: int, source: str, target: str) -> dict[str, Any]:
    pledge = _subscription(user, pledge_id)
    with transaction.atomic(durable=True):
        moved = Pledge.objects.filter(pk=pledge.pk, status=source).update(
            status=target, updated_at=timezone.now()
        )
    if not moved:
        raise Conflict(_("The subscription is not %(s)s.") % {"s": source}, code="pledge_not_" + source)
    pledge.status = target
    return pledge_to_dict(pledge)


def subscription_pause(*, user: AbstractBaseUser, pledge_id: int) -> dict[str, Any]:
    """No boxes until resumed; the quantity stays reserved under the cap."""
    return _status_move(user, pledge_id, PledgeStatus.ACTIVE, PledgeStatus.PAUSED)


def subscription_resume(*, user: AbstractBaseUser, pledge_id: int) -> dict[str, Any]:
    return _status_move(user, pledge_id, PledgeStatus.PAUSED, PledgeStatus.ACTIVE)


def subscription_cancel(*, user: AbstractBaseUser, pledge_id: int, reason: str) -> dict[str, Any]:
    _subscription(user, pledge_id)
    return pledge_cancel(user=user, pledge_id=pledge_id, reason=reason)
