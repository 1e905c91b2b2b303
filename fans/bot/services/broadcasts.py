"""Broadcasts to a segment, within every fan's attention budget."""

import datetime as dt
import logging
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import is_postgresql
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
from fans.bot.services.broadcast_followup import broadcast_not_due
from fans.bot.services.budget import promo_statuses, quiet_hours_end
from fans.chat.append import NewMessage, conversations_lock, messages_append, text_check
from fans.chat.cards import card_build
from fans.chat.models import Fan, MessageKind, Side
from fans.crm.services.common import audit, selection_clean, selection_queryset
from shops.models import Shop, ShopMember
from shops.roles import require_managing

logger = logging.getLogger(__name__)

BROADCAST_BATCH = 2000
RUN_TASK = "fans.tasks.broadcast_run_task"
BROADCASTS_PER_HOUR = 3
BROADCASTS_PER_DAY = 10
# A broadcast may be scheduled from a minute to 90 days ahead.
SEND_AT_MIN = dt.timedelta(seconds=30)
SEND_AT_MAX = dt.timedelta(days=90)


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
    text, card = _message_clean(member.shop, kind, text=text, product=product, campaign=campaign)
    if send_at is not None:
        _send_at_check(send_at)
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


def _message_clean(
    shop: Shop, kind: str, *, text: str = "", product: int | None = None, campaign: int | None = None
) -> tuple[str, dict[str, Any]]:
    card: dict[str, Any] = {}
    if kind == MessageKind.TEXT:
        text = (text or "").strip()
        text_check(text)
    elif kind == MessageKind.PRODUCT_CARD:
        card = card_build(kind, shop, {"product": product})
    elif kind == MessageKind.CAMPAIGN_CARD:
        card = card_build(kind, shop, {"campaign": campaign})
    else:
        raise Invalid(_("A broadcast is a text, a product card or a campaign card."))
    return text, card


def _send_at_check(send_at: dt.datetime) -> None:
    now = timezone.now()
    if send_at < now + SEND_AT_MIN:
        raise Invalid(_("The send time has passed; choose a time in the future."), code="send_at_past")
    if send_at > now + SEND_AT_MAX:
        raise Invalid(_("A broadcast can be scheduled at most 90 days ahead."), code="send_at_too_far")


def broadcast_waiting(broadcast: Broadcast, now: dt.datetime | None = None) -> bool:
    """Scheduled and not started: no worker or beat has taken it, so it may still be edited."""
    return (
        broadcast.status == JobStatus.QUEUED
        and broadcast.scheduled_at is not None
        and broadcast.heartbeat_at == broadcast.scheduled_at
        and not broadcast.cancel_requested
    )


def broadcast_update(
    *,
    member: ShopMember,
    broadcast: Broadcast,
    text: str | None = None,
    product: int | None = None,
    campaign: int | None = None,
    send_at: dt.datetime | None = None,
) -> Broadcast:
    """Edit a scheduled broadcast (its message or its time) until it starts."""
    require_managing(member, _("Only owners and managers send broadcasts."))
    if send_at is not None:
        _send_at_check(send_at)
    with transaction.atomic():
        current = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        # A beat that took it between our read and our lock has moved heartbeat_at: refused below.
        if not broadcast_waiting(current) or current.scheduled_at <= timezone.now():
            raise Invalid(
                _("This broadcast has started or finished; only a scheduled one can be edited."),
                code="broadcast_started",
            )
        changes: dict[str, Any] = {}
        if text is not None or product is not None or campaign is not None:
            changes["text"], changes["card"] = _message_clean(
                current.shop,
                current.kind,
                text=current.text if text is None else text,
                product=product,
                campaign=campaign,
            )
            if current.kind != MessageKind.TEXT and product is None and campaign is None:
                changes["card"] = current.card
        if send_at is not None:
            changes["scheduled_at"] = changes["heartbeat_at"] = send_at
        if not changes:
            raise Invalid(_("Nothing to change: give text, a card or send_at."), code="nothing_to_change")
        Broadcast.objects.filter(pk=current.pk).update(**changes)
        audit(
            shop=member.shop,
            actor=member.user,
            action="broadcast.edit",
            broadcast=current.pk,
            **({"at": send_at.isoformat()} if send_at else {}),
        )
    broadcast.refresh_from_db()
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
    held = _deferred_cancel(broadcast.pk)
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


def _deferred_cancel(broadcast_id: int) -> int:
    """Cancel a broadcast's deferred deliveries: ledger rows first, then the counter (the order the deferred
    sender takes its locks in)."""
    with transaction.atomic():
        pks = list(
            PromoDelivery.objects.select_for_update()
            .filter(broadcast_id=broadcast_id, status=DeliveryStatus.DEFERRED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not pks:
            return 0
        n = PromoDelivery.objects.filter(pk__in=pks).update(
            status=DeliveryStatus.CANCELLED, created_at=timezone.now()
        )
        Broadcast.objects.filter(pk=broadcast_id).update(deferred=F("deferred") - n)
    return n


def broadcasts_sweep() -> dict[str, int]:
    """Beat's recovery of broadcasts whose worker or dispatch was lost: see core.jobs."""
    return jobs_sweep(Broadcast, RUN_TASK)


def _broadcast_batch(broadcast: Broadcast, fan_ids: list[int]) -> None:
    now = timezone.now()
    with transaction.atomic():
        fans = list(
            Fan.objects.select_for_update(of=("self",))
            .filter(pk__any_of=fan_ids, shop=broadcast.shop)
            .order_by("pk")
            .values_list("pk", "promotions_opt_out", "user__is_active")
        )
        # Every broadcast is marketing: opt-out, quiet hours and the attention budget always apply. Notices
        # that must reach a fan (campaign, balance, shipment) are the system's own, never a broadcast.
        statuses = promo_statuses(
            shop=broadcast.shop,
            fans=[(f, opted_out) for f, opted_out, _active in fans],
            now=now,
            unreachable={f for f, _opted_out, active in fans if not active},
        )
        # Quiet hours defer rather than skip: the fan gets it when they end, if the budget allows then.
        due_at = None
        for fan_id, st in statuses.items():
            if st == DeliveryStatus.SKIPPED_QUIET:
                due_at = due_at or quiet_hours_end(broadcast.shop, now)
                statuses[fan_id] = DeliveryStatus.DEFERRED
        by_fan = _deliver(broadcast, [f for f, st in statuses.items() if st == DeliveryStatus.SENT])
        _promo_deliveries_insert(broadcast, statuses, by_fan, now, due_at=due_at)
        counts = {s: sum(1 for v in statuses.values() if v == s) for s in DeliveryStatus.values}
        Broadcast.objects.filter(pk=broadcast.pk).update(
            processed=F("processed") + len(fan_ids),
            sent=F("sent") + counts[DeliveryStatus.SENT],
            deferred=F("deferred") + counts[DeliveryStatus.DEFERRED],
            skipped_budget=F("skipped_budget") + counts[DeliveryStatus.SKIPPED_BUDGET],
            skipped_opt_out=F("skipped_opt_out") + counts[DeliveryStatus.SKIPPED_OPT_OUT],
            skipped_no_channel=F("skipped_no_channel") + counts[DeliveryStatus.SKIPPED_NO_CHANNEL],
        )


def _deliver(broadcast: Broadcast, send_ids: list[int]) -> dict[int, int]:
    """Append the broadcast's message to these fans' conversations; {fan_id: message_id}."""
    if not send_ids:
        return {}
    locked = conversations_lock(fan_ids=send_ids)
    # The one append core (fans.chat.append): seq, counters, preview, live delivery to both sides.
    # A broadcast is the shop speaking to many fans, not a person replying: no bot hand-off.
    appended = messages_append(
        [
            NewMessage(
                conversation=conversation,
                side=Side.SHOP,
                kind=broadcast.kind,
                text=broadcast.text,
                payload=broadcast.card,
                sender=broadcast.created_by,
                hands_off=False,
            )
            for conversation in locked.values()
        ]
    )
    return {message.conversation.fan_id: message.pk for message in appended}


def broadcast_deferred_send(*, now: dt.datetime | None = None) -> int:
    """Beat, every minute: the deferred deliveries whose quiet hours have ended go out now, each within the
    fan's budget as it stands now (or are skipped, with the reason). Batches lock their ledger rows with
    SKIP LOCKED, so two beats (or a rerun after a killed worker) never send one twice. Returns how many
    deliveries were decided."""
    now = now or timezone.now()
    decided = 0
    while True:
        with transaction.atomic():
            rows = list(
                PromoDelivery.objects.select_for_update(skip_locked=True)
                .filter(status=DeliveryStatus.DEFERRED, due_at__lte=now, broadcast__isnull=False)
                .order_by("broadcast_id", "pk")
                .values_list("pk", "fan_id", "broadcast_id")[:BROADCAST_BATCH]
            )
            if not rows:
                return decided
            broadcast_id = rows[0][2]
            rows = [r for r in rows if r[2] == broadcast_id]
            _deferred_batch(broadcast_id, {fan_id: pk for pk, fan_id, _b in rows}, now)
            decided += len(rows)


def _deferred_batch(broadcast_id: int, ledger: dict[int, int], now: dt.datetime) -> None:
    """One broadcast's due deferred deliveries ({fan_id: PromoDelivery id}), inside the caller's transaction."""
    broadcast = (
        Broadcast.objects.select_for_update(of=("self",))
        .select_related("shop", "created_by")
        .get(pk=broadcast_id)
    )
    if broadcast.cancel_requested or broadcast.status == JobStatus.CANCELLED:
        statuses = dict.fromkeys(ledger, DeliveryStatus.CANCELLED)
        due_at = None
    else:
        fans = list(
            Fan.objects.select_for_update(of=("self",))
            .filter(pk__any_of=list(ledger), shop=broadcast.shop)
            .order_by("pk")
            .values_list("pk", "promotions_opt_out", "user__is_active")
        )
        statuses = promo_statuses(
            shop=broadcast.shop,
            fans=[(f, opted_out) for f, opted_out, _active in fans],
            now=now,
            unreachable={f for f, _opted_out, active in fans if not active},
        )
        for fan_id in ledger:
            statuses.setdefault(fan_id, DeliveryStatus.SKIPPED_NO_CHANNEL)  # left the shop meanwhile
        # The shop moved its quiet hours: still quiet, so wait again for their new end.
        due_at = quiet_hours_end(broadcast.shop, now)
        for fan_id, st in statuses.items():
            if st == DeliveryStatus.SKIPPED_QUIET:
                statuses[fan_id] = DeliveryStatus.DEFERRED
    by_fan = _deliver(broadcast, [f for f, st in statuses.items() if st == DeliveryStatus.SENT])
    for st in set(statuses.values()):
        fan_ids = [f for f, v in statuses.items() if v == st]
        rows = PromoDelivery.objects.filter(
            pk__in=[ledger[f] for f in fan_ids], status=DeliveryStatus.DEFERRED
        )
        if st == DeliveryStatus.DEFERRED:
            rows.update(due_at=due_at)
        elif st == DeliveryStatus.SENT:
            # One UPDATE for the batch; each row gets its own message id.
            PromoDelivery.objects.bulk_update(
                [
                    PromoDelivery(pk=ledger[f], status=st, message_id=by_fan.get(f), created_at=now)
                    for f in fan_ids
                ],
                ["status", "message_id", "created_at"],
            )
        else:
            rows.update(status=st, created_at=now)
    counts = {s: sum(1 for v in statuses.values() if v == s) for s in DeliveryStatus.values}
    Broadcast.objects.filter(pk=broadcast.pk).update(
        deferred=F("deferred") - (len(ledger) - counts[DeliveryStatus.DEFERRED]),
        sent=F("sent") + counts[DeliveryStatus.SENT],
        skipped_budget=F("skipped_budget") + counts[DeliveryStatus.SKIPPED_BUDGET],
        skipped_opt_out=F("skipped_opt_out") + counts[DeliveryStatus.SKIPPED_OPT_OUT],
        skipped_no_channel=F("skipped_no_channel") + counts[DeliveryStatus.SKIPPED_NO_CHANNEL],
    )


def _promo_deliveries_insert(
    broadcast: Broadcast,
    statuses: dict[int, str],
    by_fan: dict[int, int],
    now: dt.datetime,
    *,
    due_at: dt.datetime | None = None,
) -> None:
    if is_postgresql(connection):
        fan_ids = list(statuses)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {PromoDelivery._meta.db_table} "
                "(fan_id, source, status, broadcast_id, message_id, created_at, due_at) "
                "SELECT f, 'broadcast', st, %s, m, %s, CASE WHEN st = 'deferred' THEN %s::timestamptz END "
                "FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(f, st, m)",
                [
                    broadcast.pk,
                    now,
                    due_at,
                    fan_ids,
                    [statuses[f] for f in fan_ids],
                    [by_fan.get(f) for f in fan_ids],
                ],
            )
        return
    PromoDelivery.objects.bulk_create(
        [
            PromoDelivery(
                fan_id=f,
                source="broadcast",
                status=st,
                broadcast=broadcast,
                message_id=by_fan.get(f),
                created_at=now,
                due_at=due_at if st == DeliveryStatus.DEFERRED else None,
            )
            for f, st in statuses.items()
        ],
        batch_size=BROADCAST_BATCH,
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
