"""Broadcasts to a segment, within every fan's attention budget."""

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid, RateLimited
from core.jobs import (
    JobStatus,
    LeaseLost,
    job_beat,
    job_cancel,
    job_cancel_requested,
    job_claim,
    job_finish,
    job_release,
    jobs_sweep,
)
from core.tasks import task_dispatch_on_commit
from fans.bot.models import (
    Broadcast,
    DeliveryStatus,
    PromoDelivery,
)
from fans.bot.services.broadcast_delivery import (
    BROADCAST_BATCH,
    broadcast_counters_add,
    broadcast_decide,
    broadcast_deferred_cancel,
    broadcast_deliver,
    promo_deliveries_insert,
)
from fans.bot.services.broadcast_followup import broadcast_not_due
from fans.bot.services.broadcast_schedule import broadcast_message_clean, broadcast_waiting, send_at_check
from fans.crm.services.common import audit, selection_clean, selection_queryset
from shops.models import Shop, ShopMember
from shops.roles import require_managing

logger = logging.getLogger(__name__)

RUN_TASK = "fans.tasks.broadcast_run_task"
BROADCASTS_PER_HOUR = 3
BROADCASTS_PER_DAY = 10


def broadcast_create(
    *,
    member: ShopMember,
    kind: str,
    text: str = "",
    product: int | None = None,
    campaign: int | None = None,
    promotional: bool = True,
    fan_ids: Any = None,
    segment: Any = None,
    filter: Any = None,
    send_at: dt.datetime | None = None,
) -> Broadcast:
    """A broadcast now, or at `send_at` (the beat starts it then; until then it can be edited or cancelled)."""
    require_managing(member, _("Only owners and managers send broadcasts."))
    text, card = broadcast_message_clean(member.shop, kind, text=text, product=product, campaign=campaign)
    if send_at is not None:
        send_at_check(send_at)
    if fan_ids is None and segment is None and filter is None:
        raise Invalid(_("Choose fan_ids, a segment or a filter ({} for every fan)."))
    selection = selection_clean(member, fan_ids=fan_ids, segment=segment, filter=filter)
    with transaction.atomic():
        # The shop row serialises concurrent creates, so the rate limit cannot be raced past.
        Shop.objects.select_for_update().filter(pk=member.shop_id).first()
        _broadcast_rate_check(member.shop_id, at=send_at)
        broadcast = Broadcast.objects.create(
            shop=member.shop,
            created_by=member.user,
            kind=kind,
            text=text,
            card=card,
            promotional=promotional,
            selection=selection,
            queued=selection_queryset(member.shop, selection).count(),
            # A scheduled one is not dispatched: heartbeat_at == scheduled_at until broadcasts_due starts it.
            scheduled_at=send_at,
            heartbeat_at=send_at,
        )
        audit(
            shop=member.shop,
            actor=member.user,
            action="broadcast.schedule" if send_at else "broadcast.create",
            count=broadcast.queued,
            broadcast=broadcast.pk,
            **({"at": send_at.isoformat()} if send_at else {}),
        )
        if send_at is None:
            task_dispatch_on_commit(RUN_TASK, broadcast.pk)
    return broadcast


def _broadcast_rate_check(shop_id: int, *, at: dt.datetime | None = None) -> None:
    """A shop sends at most BROADCASTS_PER_HOUR (and per day) broadcasts: a broadcast is marketing.
    A broadcast counts at the time it goes out (its schedule, else its creation), so a plan made for next
    week does not use up today's."""
    at = at or timezone.now()
    when = Coalesce("scheduled_at", "created_at")
    recent = (
        Broadcast.objects.filter(shop_id=shop_id)
        .exclude(status=JobStatus.CANCELLED)
        .annotate(goes_at=when)
        .filter(goes_at__gt=at - dt.timedelta(days=1), goes_at__lt=at + dt.timedelta(days=1))
    )
    per_hour, per_day = BROADCASTS_PER_HOUR, BROADCASTS_PER_DAY
    near = recent.filter(goes_at__gt=at - dt.timedelta(hours=1), goes_at__lt=at + dt.timedelta(hours=1))
    if recent.count() >= per_day or near.count() >= per_hour:
        raise RateLimited(
            _("This shop has sent %(hour)d broadcasts this hour or %(day)d today, the most allowed.")
            % {"hour": per_hour, "day": per_day},
            code="broadcast_rate_limited",
        )


def _after_batch(broadcast_id: int, processed: int) -> None:
    """Test seam: a worker killed between batches stops here (tests/fans/crm/test_jobs_recovery.py)."""


def broadcast_run(*, broadcast_id: int) -> None:
    """Deliver in batches; each batch locks its fans, applies the budget and commits on its own, with the
    broadcast's progress and lease (core.jobs).

    Safe to rerun: only a queued broadcast is taken, and a fan already in the ledger for this broadcast is
    skipped (PromoDelivery is unique per broadcast and fan). One whose worker was lost is queued again by the
    sweeper and resumes; after an error it is queued again for the sweeper to retry, a few times.
    """
    if broadcast_not_due(broadcast_id):
        return
    attempt = job_claim(Broadcast, broadcast_id)
    if attempt is None:
        return
    broadcast = Broadcast.objects.select_related("shop", "created_by").get(pk=broadcast_id)
    cancelled = False
    try:
        ids = list(
            selection_queryset(broadcast.shop, broadcast.selection)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        done = set(PromoDelivery.objects.filter(broadcast=broadcast).values_list("fan_id", flat=True))
        ids = [i for i in ids if i not in done]
        job_beat(Broadcast, broadcast.pk, attempt, queued=F("processed") + len(ids))
        for start in range(0, len(ids), BROADCAST_BATCH):
            if job_cancel_requested(Broadcast, broadcast.pk):
                cancelled = True
                break
            with transaction.atomic():
                _broadcast_batch(broadcast, ids[start : start + BROADCAST_BATCH])
                job_beat(Broadcast, broadcast.pk, attempt)
            _after_batch(broadcast.pk, start + BROADCAST_BATCH)
    except LeaseLost:
        logger.warning(
            "broadcast %s was taken from this worker (attempt %s); stopping", broadcast.pk, attempt
        )
        return
    except Exception:
        job_release(Broadcast, broadcast.pk, attempt)
        raise
    job_finish(Broadcast, broadcast.pk, attempt, JobStatus.CANCELLED if cancelled else JobStatus.SUCCEEDED)


def broadcast_cancel(*, member: ShopMember, broadcast: Broadcast) -> Broadcast:
    """Cancel in any unfinished state: at once when no live worker holds it, else before its next batch.
    Fans already sent to keep their message."""
    require_managing(member, _("Only owners and managers send broadcasts."))
    outcome = job_cancel(Broadcast, broadcast.pk)
    # Deliveries waiting for quiet hours to end are cancelled too, even once the run itself has finished.
    held = broadcast_deferred_cancel(broadcast.pk)
    if outcome == "finished" and not held:
        raise Conflict(_("The job has finished already."), code="job_finished")
    audit(
        shop=member.shop,
        actor=member.user,
        action="broadcast.cancel",
        broadcast=broadcast.pk,
        outcome=outcome,
        deferred_cancelled=held,
    )
    broadcast.refresh_from_db()
    return broadcast


def broadcasts_sweep() -> dict[str, int]:
    """Beat's recovery of broadcasts whose worker or dispatch was lost: see core.jobs."""
    return jobs_sweep(Broadcast, RUN_TASK)


def _broadcast_batch(broadcast: Broadcast, fan_ids: list[int]) -> None:
    now = timezone.now()
    with transaction.atomic():
        statuses, due_at = broadcast_decide(broadcast, fan_ids, now)
        by_fan = broadcast_deliver(broadcast, [f for f, st in statuses.items() if st == DeliveryStatus.SENT])
        promo_deliveries_insert(broadcast, statuses, by_fan, now, due_at=due_at)
        deferred = sum(1 for st in statuses.values() if st == DeliveryStatus.DEFERRED)
        broadcast_counters_add(
            broadcast.pk, statuses, processed=F("processed") + len(fan_ids), deferred=F("deferred") + deferred
        )


def broadcast_stats(broadcast: Broadcast) -> dict[str, Any]:
    read = PromoDelivery.objects.filter(
        broadcast=broadcast,
        status=DeliveryStatus.SENT,
        message__seq__lte=F("message__conversation__fan_read_seq"),
    ).count()
    skipped_reasons = {
        "over_budget": broadcast.skipped_budget,
        "opted_out": broadcast.skipped_opt_out,
        "no_channel": broadcast.skipped_no_channel,
    }
    if broadcast.skipped_quiet:  # broadcasts from before quiet hours deferred
        skipped_reasons["quiet_hours"] = broadcast.skipped_quiet
    deferred_until = (
        PromoDelivery.objects.filter(broadcast=broadcast, status=DeliveryStatus.DEFERRED)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
        if broadcast.deferred
        else None
    )
    return {
        "id": broadcast.pk,
        # "scheduled" until its time comes and the beat starts it; then queued, running, succeeded…
        "status": "scheduled" if broadcast_waiting(broadcast) else broadcast.status,
        "cancel_requested": broadcast.cancel_requested,
        "queued": broadcast.queued,
        "processed": broadcast.processed,
        "progress": round(broadcast.processed / broadcast.queued, 4) if broadcast.queued else 1.0,
        "sent": broadcast.sent,
        "skipped_budget": broadcast.skipped_budget,
        "skipped_opt_out": broadcast.skipped_opt_out,
        "skipped_quiet": broadcast.skipped_quiet,
        "skipped_no_channel": broadcast.skipped_no_channel,
        "skipped": sum(skipped_reasons.values()),
        "skipped_reasons": skipped_reasons,
        "deferred": broadcast.deferred,
        "deferred_until": deferred_until,
        "read": read,
        "kind": broadcast.kind,
        "promotional": broadcast.promotional,
        "created_at": broadcast.created_at,
        "finished_at": broadcast.finished_at,
        "scheduled_at": broadcast.scheduled_at,
        "send_at": broadcast.scheduled_at,
        "text": broadcast.text,
        "retry_of": broadcast.retry_of_id,
    }
