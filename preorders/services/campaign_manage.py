"""What an owner does to a live group campaign: close it now once the target is reached, extend its deadline
once, or cancel it with every deposit refunded.

Each reuses the deadline close (preorders.services.closing): closing early and cancelling move `deadline` to
now (the announced one is kept in `original_deadline`) and run campaign_close, so confirmation, refunds,
notices and the balance window are the same code as at a deadline, and a crash half-way is finished by the
beat's campaigns_close_due. All three are idempotent: a retried close or cancel finishes the same close and
answers the same campaign; a second extension is refused (already_extended).

A cancel is a failed campaign with `cancelled_at` set, so every path that handles failed campaigns (refunds,
settlement, reports) stays correct. Only a live campaign can be cancelled: once succeeded, balances are being
paid and the MOQ decision (cancel with full refunds) is the way out.
"""

import datetime as dt
import time
import zoneinfo
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from core.errors import Conflict, Forbidden, Invalid, NotFound
from fans.chat.models import Conversation, MessageKind
from fans.chat.services import system_message_post
from fans.crm.services.common import audit
from preorders.access import access_campaign_to_manage
from preorders.models import (
    HOLDING_STATUSES,
    Campaign,
    CampaignKind,
    CampaignNotice,
    CampaignStatus,
    Pledge,
    PledgeStatus,
)
from preorders.services.campaigns import MAX_AHEAD, campaign_card_build
from preorders.services.closing import campaign_close

# How far one extension may push the deadline.
EXTEND_MAX = dt.timedelta(days=14)
# How long closing early or cancelling waits for deposits in flight (a provider answers in well under this).
PENDING_WAIT_S = 3.0
NOTICE_EXTENDED = "extended"


def _group_campaign(user: AbstractBaseUser, campaign_id: int) -> Campaign:
    """The caller's group campaign, locked: owner or manager. Assistants, and fans of a launched (public)
    campaign, get 403; a draft or missing one is 404 to outsiders."""
    try:
        campaign = access_campaign_to_manage(user, campaign_id, lock=True)
    except NotFound:
        if Campaign.objects.filter(pk=campaign_id).exclude(status=CampaignStatus.DRAFT).exists():
            raise Forbidden() from None
        raise
    if campaign.kind != CampaignKind.GROUP:
        raise Conflict(_("Only a group pre-order can be closed, extended or cancelled."), code="not_group")
    return campaign


def _held_quantity(campaign: Campaign) -> int:
    """Committed units whose deposit is paid (a pending one may still be undone)."""
    pending = Pledge.objects.filter(campaign=campaign, status=PledgeStatus.PENDING).aggregate(
        n=Sum("quantity")
    )
    return campaign.committed_quantity - (pending["n"] or 0)


def _close_settled(campaign_id: int, *, timeout_s: float = PENDING_WAIT_S) -> None:
    """Run the close once deposits already in flight have landed, so it settles them now.

    A pledge whose statement was queued on the campaign row while we moved the deadline may still reserve
    just after (its guard compares the time it was sent), so the close is retried until it finishes or the
    wait runs out; then the beat's next campaigns_close_due finishes it."""
    give_up = time.monotonic() + timeout_s
    while True:
        pending = Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.PENDING)
        while pending.exists() and time.monotonic() < give_up:
            time.sleep(0.05)
        campaign_close(campaign_id=campaign_id)
        closed = Campaign.objects.filter(pk=campaign_id, closed_at__isnull=False).exists()
        if closed or time.monotonic() >= give_up:
            return


def campaign_close_now(*, user: AbstractBaseUser, campaign_id: int) -> Campaign:
    """Close before the deadline once the target is reached; then the normal close runs (confirm, notices).

    A retry on a succeeded campaign finishes and answers the same close; a failed or draft one is 409
    campaign_not_live; below the target is 409 target_not_reached and changes nothing.
    """
    with transaction.atomic(durable=True):
        campaign = _group_campaign(user, campaign_id)
        if campaign.status != CampaignStatus.SUCCEEDED:
            if campaign.status != CampaignStatus.LIVE:
                raise Conflict(_("This campaign is not running."), code="campaign_not_live")
            held = _held_quantity(campaign)
            if held < campaign.target_quantity:
                raise Conflict(
                    _("The target is not reached yet: %(n)d of %(target)d.")
                    % {"n": held, "target": campaign.target_quantity},
                    code="target_not_reached",
                    detail={"committed_quantity": held, "target_quantity": campaign.target_quantity},
                )
            now = timezone.now()
            if campaign.deadline > now:
                campaign.original_deadline = campaign.original_deadline or campaign.deadline
                campaign.deadline = now
                campaign.closed_early_at = now
                campaign.save(update_fields=["original_deadline", "deadline", "closed_early_at"])
                audit(
                    shop=campaign.shop,
                    actor=user,
                    action="campaign.close_early",
                    count=held,
                    campaign=campaign.pk,
                )
    _close_settled(campaign_id)
    return Campaign.objects.select_related("shop").get(pk=campaign_id)


def shop_zone(shop: Any) -> dt.tzinfo:
    """The shop's time zone (the server's if the shop names none that exists)."""
    try:
        return zoneinfo.ZoneInfo(shop.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return timezone.get_current_timezone()


def _deadline_parse(value: Any, zone: dt.tzinfo) -> dt.datetime:
    """An ISO date and time; without an offset it is the shop's wall time (what its date picker shows)."""
    try:
        parsed = value if isinstance(value, dt.datetime) else parse_datetime(str(value or ""))
    except ValueError:
        parsed = None
    if parsed is None:
        raise Invalid(_("The new deadline must be a date and time."), code="deadline_invalid")
    return timezone.make_aware(parsed, zone) if timezone.is_naive(parsed) else parsed


def campaign_extend(*, user: AbstractBaseUser, campaign_id: int, deadline: Any) -> Campaign:
    """Move the deadline later, once, before it passes, by at most EXTEND_MAX; every pledger is told.

    The balance deadline and ship-by date move by the same amount, so the fans' balance window and the
    promised delivery keep their length.
    """
    if not isinstance(deadline, (str, dt.datetime)):
        raise Invalid(_("The new deadline must be a date and time."), code="deadline_invalid")
    with transaction.atomic(durable=True):
        campaign = _group_campaign(user, campaign_id)
        new_deadline = _deadline_parse(deadline, shop_zone(campaign.shop))
        now = timezone.now()
        if campaign.status != CampaignStatus.LIVE:
            raise Conflict(_("This campaign is not running."), code="campaign_not_live")
        if campaign.deadline <= now:
            raise Conflict(_("The deadline has already passed."), code="deadline_passed")
        if campaign.extended_at is not None:
            raise Conflict(_("This campaign has already been extended once."), code="already_extended")
        latest = min(campaign.deadline + EXTEND_MAX, now + MAX_AHEAD)
        if not (campaign.deadline < new_deadline <= latest):
            raise Invalid(
                _("The new deadline must be later than the current one and at most 14 days after it."),
                code="deadline_invalid",
                detail={"deadline": campaign.deadline.isoformat(), "latest": latest.isoformat()},
            )
        delta = new_deadline - campaign.deadline
        campaign.original_deadline = campaign.original_deadline or campaign.deadline
        campaign.deadline = new_deadline
        campaign.extended_at = now
        if campaign.balance_deadline is not None:
            campaign.balance_deadline += delta
        if campaign.ship_by is not None:
            campaign.ship_by += delta
        campaign.save(
            update_fields=["original_deadline", "deadline", "extended_at", "balance_deadline", "ship_by"]
        )
        audit(
            shop=campaign.shop,
            actor=user,
            action="campaign.extend",
            campaign=campaign.pk,
            deadline=new_deadline.isoformat(),
        )
        from preorders.tasks import campaign_extended_notify_task

        campaign_extended_notify_task.delay_on_commit(campaign.pk)
    return campaign


def campaign_cancel(*, user: AbstractBaseUser, campaign_id: int, reason: Any = "") -> Campaign:
    """End a live campaign now: it fails, every deposit goes back through the money loop, every pledger is
    told. A retry finishes the same refunds; a campaign that succeeded or already failed is 409."""
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise Invalid(_("The reason must be text."), code="reason_invalid")
    with transaction.atomic(durable=True):
        campaign = _group_campaign(user, campaign_id)
        if campaign.cancelled_at is None:
            now = timezone.now()
            if campaign.status != CampaignStatus.LIVE:
                raise Conflict(
                    _("Only a running campaign can be cancelled."),
                    code="campaign_not_live",
                    detail={"status": campaign.status},
                )
            if campaign.deadline <= now:
                raise Conflict(
                    _("The deadline has passed; the campaign is being closed."), code="deadline_passed"
                )
            campaign.original_deadline = campaign.original_deadline or campaign.deadline
            campaign.deadline = now
            campaign.status = CampaignStatus.FAILED
            campaign.decided_at = now
            campaign.cancelled_at = now
            campaign.cancel_reason = reason.strip()[:200]
            campaign.save(
                update_fields=[
                    "original_deadline",
                    "deadline",
                    "status",
                    "decided_at",
                    "cancelled_at",
                    "cancel_reason",
                ]
            )
            audit(
                shop=campaign.shop,
                actor=user,
                action="campaign.cancel",
                count=campaign.committed_quantity,
                campaign=campaign.pk,
            )
    _close_settled(campaign_id)
    return Campaign.objects.select_related("shop").get(pk=campaign_id)


def _shop_time(campaign: Campaign, when: dt.datetime) -> str:
    return when.astimezone(shop_zone(campaign.shop)).strftime("%m-%d %H:%M")


def campaign_extended_notify(*, campaign_id: int, batch: int = 200) -> int:
    """Tell up to `batch` not-yet-told pledgers of an extension, once per fan; returns how many remain."""
    campaign = Campaign.objects.select_related("shop").get(pk=campaign_id)
    if campaign.extended_at is None:
        return 0
    told = CampaignNotice.objects.filter(campaign=campaign, kind=NOTICE_EXTENDED).values("fan_id")
    fan_ids = list(
        Pledge.objects.filter(campaign=campaign, status__in=HOLDING_STATUSES)
        .exclude(fan_id__in=told)
        .values_list("fan_id", flat=True)
        .distinct()
        .order_by("fan_id")[: batch + 1]
    )
    text = _(
        "The deadline of “%(title)s” is extended to %(deadline)s (shop time). Your pledge stays as it is; "
        "there is nothing to do."
    ) % {
        "title": campaign.title,
        "deadline": _shop_time(campaign, campaign.deadline),
    }
    card = campaign_card_build(campaign.shop, {"campaign": campaign.pk})
    for fan_id in fan_ids[:batch]:
        conversation = Conversation.objects.filter(fan_id=fan_id).first()
        with transaction.atomic(durable=True):
            _notice, created = CampaignNotice.objects.get_or_create(
                campaign=campaign, fan_id=fan_id, kind=NOTICE_EXTENDED
            )
            if not created or conversation is None:
                continue
            system_message_post(conversation=conversation, text=text)
            system_message_post(
                conversation=conversation, text="", kind=MessageKind.CAMPAIGN_CARD, payload=card
            )
    return max(0, len(fan_ids) - batch)
