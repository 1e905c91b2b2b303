"""Transactional pushes that fall in a fan's quiet hours wait for them to end.

A notice (balance due, shipment, dunning: side=system) is stored at once, so the fan sees it in the chat
whenever they look; only its push to the lock screen waits. `push_for_messages` stores one DeferredPush per
message and fan (unique: a retried task adds nothing) with `due_at` = the end of the shop's quiet hours
(fans.bot's rule). The beat (`deferred_pushes_send_due`, every 30 s) sends the due ones:

- still collapsed per conversation: of a fan's waiting pushes for one conversation only the latest message
  goes, the older rows become `skipped` (`replaced`);
- skipped when no longer needed: the fan has read the message since (`read`) or has a socket open (`online`:
  they see it in the page; the chat's unread badge covers it);
- claimed with a guarded state transition (pending → sending, FOR UPDATE SKIP LOCKED), so two beats never
  send the same row; a worker killed after claiming leaves `sending` rows, which the next beat retries after
  CLAIM_STALE. Rows are marked sent per chunk right after that chunk's pushes, so a kill can repeat at most
  the one chunk in flight, and that repeat carries the same Topic and notification tag: the push service and
  the browser replace the notification rather than add a second one.
"""

import datetime as dt
import logging

from django.db import connection, transaction
from django.utils import timezone

from fans.bot.services.budget import quiet_hours_end, quiet_hours_now
from fans.chat.presence import online_user_ids
from reach.models import DeferredPush, DeferredPushState, PushPreference, PushSubscription

logger = logging.getLogger(__name__)

CLAIM_STALE = dt.timedelta(minutes=3)
CHUNK = 200
MAX_PER_RUN = 20_000


def deferred_pushes_store(rows: list[tuple[int, int, int, dt.datetime]]) -> int:
    """(message_id, conversation_id, user_id, due_at) rows; a row already stored is left as it is."""
    if not rows:
        return 0
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO reach_deferredpush (message_id, conversation_id, user_id, due_at, state, reason, created_at)
            SELECT m, c, u, d, 'pending', '', %s
            FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::timestamptz[]) AS t(m, c, u, d)
            ON CONFLICT (message_id, user_id) DO NOTHING
            RETURNING id
            """,
            [now, *map(list, zip(*rows, strict=True))],
        )
        return len(cur.fetchall())


def _claim(now: dt.datetime, limit: int) -> list[int]:
    """Due pending rows and stale claims → sending, atomically; returns the claimed ids."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            UPDATE reach_deferredpush d SET state = 'sending', claimed_at = %s
            WHERE d.id IN (
                SELECT id FROM reach_deferredpush
                WHERE (state = 'pending' AND due_at <= %s) OR (state = 'sending' AND claimed_at < %s)
                ORDER BY due_at, id LIMIT %s FOR UPDATE SKIP LOCKED
            )
            RETURNING d.id
            """,
            [now, now, now - CLAIM_STALE, limit],
        )
        return [r[0] for r in cur.fetchall()]


def _finish(ids: list[int], state: str, reason: str = "") -> None:
    if ids:
        DeferredPush.objects.filter(pk__in=ids, state=DeferredPushState.SENDING).update(
            state=state, reason=reason, done_at=timezone.now()
        )


def deferred_pushes_send_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat, every 30 s: send the deferred pushes whose quiet hours are over."""
    from reach.services.push import Push, push_text, pushes_send  # push imports this module

    now = now or timezone.now()
    counts = {"sent": 0, "skipped": 0, "deferred": 0, "gone": 0, "failed": 0}
    ids = _claim(now, MAX_PER_RUN)
    if not ids:
        return counts
    rows = list(
        DeferredPush.objects.filter(pk__in=ids)
        .select_related("message", "conversation__shop", "conversation__fan")
        .order_by("user_id", "conversation_id", "message__seq")
    )
    # Quiet hours moved later since the row was stored: it waits again, for the new end.
    quiet: dict[int, dt.datetime | None] = {}
    later: dict[dt.datetime, list[int]] = {}
    live = []
    for r in rows:
        shop = r.conversation.shop
        if shop.pk not in quiet:
            quiet[shop.pk] = quiet_hours_end(shop, now) if quiet_hours_now(shop, now) else None
        if quiet[shop.pk] is not None:
            later.setdefault(quiet[shop.pk], []).append(r.pk)
        else:
            live.append(r)
    for due_at, pks in later.items():
        DeferredPush.objects.filter(pk__in=pks, state=DeferredPushState.SENDING).update(
            state=DeferredPushState.PENDING, due_at=due_at, claimed_at=None
        )
        counts["deferred"] += len(pks)
    latest: dict[tuple[int, int], DeferredPush] = {}
    replaced = []
    for r in live:  # ordered by seq: the last one per (fan, conversation) wins
        key = (r.user_id, r.conversation_id)
        if key in latest:
            replaced.append(latest[key].pk)
        latest[key] = r
    _finish(replaced, DeferredPushState.SKIPPED, "replaced")
    online = online_user_ids(sorted({u for u, _c in latest}))
    read = [r.pk for r in latest.values() if r.conversation.fan_read_seq >= r.message.seq]
    came_online = [r.pk for r in latest.values() if r.user_id in online and r.pk not in read]
    _finish(read, DeferredPushState.SKIPPED, "read")
    _finish(came_online, DeferredPushState.SKIPPED, "online")
    counts["skipped"] += len(replaced) + len(read) + len(came_online)
    todo = [r for r in latest.values() if r.pk not in set(read) | set(came_online)]
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        users = {r.user_id for r in chunk}
        subscriptions: dict[int, list[PushSubscription]] = {}
        for s in PushSubscription.objects.filter(user_id__in=users):
            subscriptions.setdefault(s.user_id, []).append(s)
        previews = set(
            PushPreference.objects.filter(user_id__in=users, previews=True).values_list("user_id", flat=True)
        )
        pushes = [
            Push(
                s,
                push_text(
                    message=r.message,
                    conversation=r.conversation,
                    to_staff=False,
                    previews=r.user_id in previews,
                ),
                f"c{r.conversation_id}",
            )
            for r in chunk
            for s in subscriptions.get(r.user_id, ())
        ]
        result = pushes_send(pushes)
        _finish([r.pk for r in chunk if subscriptions.get(r.user_id)], DeferredPushState.SENT)
        no_device = [r.pk for r in chunk if not subscriptions.get(r.user_id)]  # switched off meanwhile
        _finish(no_device, DeferredPushState.SKIPPED, "no_device")
        counts["skipped"] += len(no_device)
        for k in ("sent", "gone", "failed"):
            counts[k] += result[k]
    return counts
