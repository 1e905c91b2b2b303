"""Broadcasts to a segment, within every fan's attention budget."""

import datetime as dt
import logging
from typing import Any

from django.db import connection, transaction
from django.db.models import F
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
from fans.bot.services.budget import promo_statuses
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
) -> Broadcast:

    require_managing(member, _("Only owners and managers send broadcasts."))
    card: dict[str, Any] = {}
    if kind == MessageKind.TEXT:
        text = (text or "").strip()
        text_check(text)
    elif kind == MessageKind.PRODUCT_CARD:
        card = card_build(kind, member.shop, {"product": product})
    elif kind == MessageKind.CAMPAIGN_CARD:
        card = card_build(kind, member.shop, {"campaign": campaign})
    else:
        raise Invalid(_("A broadcast is a text, a product card or a campaign card."))
    if fan_ids is None and segment is None and filter is None:
        raise Invalid(_("Choose fan_ids, a segment or a filter ({} for every fan)."))
    selection = selection_clean(member, fan_ids=fan_ids, segment=segment, filter=filter)
    with transaction.atomic():
        # The shop row serialises concurrent creates, so the rate limit cannot be raced past.
        Shop.objects.select_for_update().filter(pk=member.shop_id).first()
        _broadcast_rate_check(member.shop_id)
        broadcast = Broadcast.objects.create(
            shop=member.shop,
            created_by=member.user,
            kind=kind,
            text=text,
            card=card,
            promotional=promotional,
            selection=selection,
            queued=selection_queryset(member.shop, selection).count(),
        )
        audit(
            shop=member.shop,
            actor=member.user,
            action="broadcast.create",
            count=broadcast.queued,
            broadcast=broadcast.pk,
        )
        task_dispatch_on_commit(RUN_TASK, broadcast.pk)
    return broadcast


def _broadcast_rate_check(shop_id: int) -> None:
    """A shop sends at most BROADCASTS_PER_HOUR (and per day) broadcasts: a broadcast is marketing."""
    now = timezone.now()
    recent = Broadcast.objects.filter(shop_id=shop_id, created_at__gte=now - dt.timedelta(days=1))
    per_hour, per_day = BROADCASTS_PER_HOUR, BROADCASTS_PER_DAY
    if (
        recent.count() >= per_day
        or recent.filter(created_at__gte=now - dt.timedelta(hours=1)).count() >= per_hour
    ):
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
    if outcome == "finished":
        raise Conflict(_("The job has finished already."), code="job_finished")
    audit(
        shop=member.shop,
        actor=member.user,
        action="broadcast.cancel",
        broadcast=broadcast.pk,
        outcome=outcome,
    )
    broadcast.refresh_from_db()
    return broadcast


def broadcasts_sweep() -> dict[str, int]:
    """Beat's recovery of broadcasts whose worker or dispatch was lost: see core.jobs."""
    return jobs_sweep(Broadcast, RUN_TASK)


def _broadcast_batch(broadcast: Broadcast, fan_ids: list[int]) -> None:
    now = timezone.now()
    with transaction.atomic():
        fans = list(
            Fan.objects.select_for_update()
            .filter(pk__any_of=fan_ids, shop=broadcast.shop)
            .order_by("pk")
            .values_list("pk", "promotions_opt_out")
        )
        # Every broadcast is marketing: opt-out, quiet hours and the attention budget always apply. Notices
        # that must reach a fan (campaign, balance, shipment) are the system's own, never a broadcast.
        statuses = promo_statuses(shop=broadcast.shop, fans=fans, now=now)
        send_ids = [f for f, s in statuses.items() if s == DeliveryStatus.SENT]
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
        by_fan = {message.conversation.fan_id: message.pk for message in appended}
        _promo_deliveries_insert(broadcast, statuses, by_fan, now)
        counts = {s: sum(1 for v in statuses.values() if v == s) for s in DeliveryStatus.values}
        Broadcast.objects.filter(pk=broadcast.pk).update(
            processed=F("processed") + len(fan_ids),
            sent=F("sent") + counts[DeliveryStatus.SENT],
            skipped_budget=F("skipped_budget") + counts[DeliveryStatus.SKIPPED_BUDGET],
            skipped_opt_out=F("skipped_opt_out") + counts[DeliveryStatus.SKIPPED_OPT_OUT],
            skipped_quiet=F("skipped_quiet") + counts[DeliveryStatus.SKIPPED_QUIET],
        )


def _promo_deliveries_insert(
    broadcast: Broadcast, statuses: dict[int, str], by_fan: dict[int, int], now: dt.datetime
) -> None:
    if is_postgresql(connection):
        fan_ids = list(statuses)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {PromoDelivery._meta.db_table} (fan_id, source, status, broadcast_id, message_id, created_at) "
                "SELECT f, 'broadcast', st, %s, m, %s FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(f, st, m)",
                [
                    broadcast.pk,
                    now,
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
    return {
        "id": broadcast.pk,
        "status": broadcast.status,
        "cancel_requested": broadcast.cancel_requested,
        "queued": broadcast.queued,
        "processed": broadcast.processed,
        "progress": round(broadcast.processed / broadcast.queued, 4) if broadcast.queued else 1.0,
        "sent": broadcast.sent,
        "skipped_budget": broadcast.skipped_budget,
        "skipped_opt_out": broadcast.skipped_opt_out,
        "skipped_quiet": broadcast.skipped_quiet,
        "read": read,
        "kind": broadcast.kind,
        "promotional": broadcast.promotional,
        "created_at": broadcast.created_at,
        "finished_at": broadcast.finished_at,
        "scheduled_at": broadcast.scheduled_at,
        "retry_of": broadcast.retry_of_id,
    }
