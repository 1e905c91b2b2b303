"""A broadcast's deliveries: deciding each fan's (sent, skipped with a reason, or deferred to the end of quiet
hours), appending the message through the one message core, the attention-budget ledger rows, and the
deferred deliveries the beat sends once quiet hours are over."""

import datetime as dt
from collections import Counter
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import metrics
from core.db import is_postgresql
from core.jobs import JobStatus
from fans.bot.models import Broadcast, DeliveryStatus, PromoDelivery
from fans.bot.services.budget import promo_statuses, quiet_hours_end
from fans.chat.append import NewMessage, conversations_lock, messages_append
from fans.chat.models import Fan, Side

# Fans per transaction of a broadcast. Each fan's message is announced when its batch commits, so the batch
# bounds the live latency (bench/sockets.py, 10,000 fans online: 2,000 gave p50 1.3 s / p99 1.9 s because
# every message waited for 2,000 others to be written; 500: p50 0.22 s). The whole run pays about 10% for the
# extra commits (bench/broadcast.py, 100k fans, quiet machine: 52.1 s at 500, 47.1 s at 2,000).
BROADCAST_BATCH = 500


def broadcast_decide(
    broadcast: Broadcast, fan_ids: list[int], now: dt.datetime
) -> tuple[dict[int, str], dt.datetime | None]:
    """Lock these fans (pk order) and decide each delivery now: sent, skipped with its reason, or deferred to
    the end of quiet hours (the due time returned); a fan no longer in the shop is left out. Every
    broadcast is marketing: opt-out, quiet hours and the attention budget always apply; notices that must
    reach a fan (campaign, balance, shipment) are the system's own, never a broadcast."""
    fans = list(
        Fan.objects.select_for_update(of=("self",))
        .filter(pk__any_of=fan_ids, shop=broadcast.shop)
        .order_by("pk")
        .values_list("pk", "promotions_opt_out", "user__is_active")
    )
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
    return statuses, due_at


def broadcast_counters_add(broadcast_id: int, statuses: dict[int, str], **extra: Any) -> None:
    """Move the broadcast's counters by these decisions (plus `extra` F() changes), in one UPDATE."""
    counts = Counter(statuses.values())
    Broadcast.objects.filter(pk=broadcast_id).update(
        sent=F("sent") + counts[DeliveryStatus.SENT],
        skipped_budget=F("skipped_budget") + counts[DeliveryStatus.SKIPPED_BUDGET],
        skipped_opt_out=F("skipped_opt_out") + counts[DeliveryStatus.SKIPPED_OPT_OUT],
        skipped_no_channel=F("skipped_no_channel") + counts[DeliveryStatus.SKIPPED_NO_CHANNEL],
        **extra,
    )
    metrics.broadcast_sent(counts[DeliveryStatus.SENT])


def broadcast_deliver(broadcast: Broadcast, send_ids: list[int]) -> dict[int, int]:
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


def promo_deliveries_insert(
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


def broadcast_deferred_send(*, now: dt.datetime | None = None) -> int:
    """Beat, every 30 s: the deferred deliveries whose quiet hours have ended go out now, each within the
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
        statuses, due_at = dict.fromkeys(ledger, DeliveryStatus.CANCELLED), None
    else:
        # Still quiet (the shop moved its quiet hours): those wait again, for the new end.
        statuses, due_at = broadcast_decide(broadcast, list(ledger), now)
        for fan_id in ledger:
            statuses.setdefault(fan_id, DeliveryStatus.SKIPPED_NO_CHANNEL)  # left the shop meanwhile
    by_fan = broadcast_deliver(broadcast, [f for f, st in statuses.items() if st == DeliveryStatus.SENT])
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
    still = sum(1 for st in statuses.values() if st == DeliveryStatus.DEFERRED)
    broadcast_counters_add(broadcast.pk, statuses, deferred=F("deferred") - (len(ledger) - still))


def broadcast_deferred_cancel(broadcast_id: int) -> int:
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
