"""Web push: who gets one for a stored message, what it says, and sending it (VAPID, aes128gcm).

The chat core tells reach after commit which messages it stored (fans.chat.hooks.message_persisted_listeners);
`messages_persisted` keeps only the recipients with no open socket and dispatches one task per transaction.
The task (`push_for_messages`) re-checks presence, collapses the pushes per conversation and sends them from a
small thread pool, each thread with its own HTTP session. A push service answering 404 or 410 means the
subscription is gone: it is deleted.
"""

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from py_vapid import Vapid
from pywebpush import WebPusher

from core.tasks import task_dispatch
from fans.bot.services.budget import quiet_hours_end, quiet_hours_now
from fans.chat.append import CARD_KINDS, preview_of
from fans.chat.hooks import PersistedMessage
from fans.chat.models import Conversation, Message, Side
from fans.chat.presence import online_user_ids
from reach.endpoints import endpoint_sendable
from reach.models import PushPreference, PushSubscription, Reminder, ReminderStatus
from reach.services.deferred_push import deferred_pushes_store
from shops.models import Shop

logger = logging.getLogger(__name__)

PUSH_TASK = "reach.tasks.push_messages_task"
# From this many messages in one transaction, only fans with a device are handed to the task (a send or a
# notice stays one presence read and one dispatch).
DEVICE_CHECK_MIN = 50


def messages_persisted(items: list[PersistedMessage]) -> None:
    """After commit, on the send path: one presence read and at most one task dispatch, nothing else.

    A shop-side message (a reply, a notice, a broadcast) is for the fan; a fan's message is for the shop's
    staff, whom the task works out (the assignee, or the owner)."""
    fan_users = {i.fan_user_id for i in items if i.side != Side.FAN}
    online = online_user_ids(sorted(fan_users)) if fan_users else set()
    wanted = [i for i in items if i.side == Side.FAN or i.fan_user_id not in online]
    if len(wanted) >= DEVICE_CHECK_MIN:
        # A batch this large is a broadcast's: most of its fans have no device, and a task reading every
        # message to find that out cost a quarter of a 100k broadcast (bench/broadcast.py). One indexed read.
        with_device = set(
            PushSubscription.objects.filter(
                user_id__in={i.fan_user_id for i in wanted if i.side != Side.FAN}
            ).values_list("user_id", flat=True)
        )
        wanted = [i for i in wanted if i.side == Side.FAN or i.fan_user_id in with_device]
    if wanted:
        marketing = [i.message_id for i in wanted if is_marketing(i)]
        task_dispatch(PUSH_TASK, [i.message_id for i in wanted], marketing)


def is_marketing(item: PersistedMessage) -> bool:
    """Broadcasts (the shop speaking to many: no hand-off), recommendation and campaign cards."""
    return item.kind in CARD_KINDS or (item.side == Side.SHOP and not item.hands_off)


@dataclass(slots=True)
class Push:
    subscription: PushSubscription
    payload: dict[str, Any]
    topic: str


class _Row(NamedTuple):
    """What deciding a message's push needs, read as plain values (no model instances)."""

    pk: int
    conversation_id: int
    side: str
    sender_id: int | None
    created_at: Any
    shop_id: int
    assigned_to_id: int | None
    owner_id: int
    fan_user_id: int
    promotions_opt_out: bool


_ROW_FIELDS = (
    "pk",
    "conversation_id",
    "side",
    "sender_id",
    "created_at",
    "conversation__shop_id",
    "conversation__assigned_to_id",
    "conversation__shop__owner_id",
    "conversation__fan__user_id",
    "conversation__fan__promotions_opt_out",
)


def _recipient(row: _Row) -> int | None:
    if row.side == Side.FAN:
        return row.assigned_to_id or row.owner_id
    return row.fan_user_id


def push_text(
    *, message: Message, conversation: Conversation, to_staff: bool, previews: bool
) -> dict[str, Any]:
    """The lock screen's words: who wrote, and the text only for someone who allowed previews."""
    shop = conversation.shop
    limit = settings.FANSI_PUSH["PREVIEW_CHARS"]
    with translation.override(settings.LANGUAGE_CODE):
        if to_staff:
            title = shop.name
            body = _("A fan sent you a message")
            url = reverse("inbox-conversation", args=[conversation.pk]) + f"?shop={shop.pk}"
            if previews:
                body = f"{conversation.fan.display_name}: {preview_of(message.kind, message.text, message.payload)}"
        else:
            title = shop.name
            body = _("%(shop)s sent you a message") % {"shop": shop.name}
            url = reverse("fan-chat", args=[shop.slug])
            if previews:
                body = preview_of(message.kind, message.text, message.payload)
    if len(body) > limit:
        body = body[: limit - 1] + "…"
    return {
        "title": title[:60],
        "body": body,
        "tag": f"conversation-{conversation.pk}",
        "url": url,
        "conversation": conversation.pk,
    }


def _cancel_reminders_on_reply(rows: list[_Row]) -> None:
    """The fan wrote first: their reminders set with "cancel if the fan writes" are done."""
    q = Q()
    for r in rows:
        q |= Q(conversation_id=r.conversation_id, created_at__lt=r.created_at)
    if q:
        Reminder.objects.filter(q, cancel_on_reply=True, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.FAN_WROTE, closed_at=timezone.now()
        )


def push_for_messages(*, message_ids: list[int], marketing_ids: list[int] = ()) -> dict[str, int]:
    """Push every stored message to its recipient's devices unless they are online; the latest per
    conversation and recipient only (collapsed). Returns counts for logs and benches.

    Decided on plain rows; only the messages that are pushed are loaded as models (text, shop and fan
    names). A broadcast batch is hundreds of messages to fans who mostly have no device: loading each with
    its conversation, shop and fan cost half the broadcast's time (bench/broadcast.py, issue 17)."""
    rows = [
        _Row(*values)
        for values in Message.objects.filter(pk__in=message_ids)
        .order_by("conversation_id", "seq")
        .values_list(*_ROW_FIELDS)
    ]
    fan_rows = [r for r in rows if r.side == Side.FAN]
    if fan_rows:
        _cancel_reminders_on_reply(fan_rows)
    marketing = set(marketing_ids)
    shops = Shop.objects.in_bulk({r.shop_id for r in rows})
    quiet = {shop_id: quiet_hours_now(shop) for shop_id, shop in shops.items()}
    latest: dict[tuple[int, int], _Row] = {}
    for r in rows:
        if r.pk in marketing:
            # Within the attention budget: the message itself passed the budget when it was stored; the
            # push in quiet hours is dropped (fans.bot's rule, not a copy of it): the card or broadcast is in
            # the chat, and a marketing push the next morning about last night's card is noise.
            if quiet[r.shop_id] or r.promotions_opt_out:
                continue
        recipient = _recipient(r)
        if recipient is None or recipient == r.sender_id:
            continue
        latest[(recipient, r.conversation_id)] = r
    if not latest:
        return {"sent": 0, "gone": 0, "failed": 0, "online": 0, "deferred": 0}
    recipients = sorted({r for r, _c in latest})
    online = online_user_ids(recipients)
    subscriptions: dict[int, list[PushSubscription]] = {}
    for s in PushSubscription.objects.filter(user_id__in=[r for r in recipients if r not in online]):
        subscriptions.setdefault(s.user_id, []).append(s)
    previews = set(
        PushPreference.objects.filter(user_id__in=list(subscriptions), previews=True).values_list(
            "user_id", flat=True
        )
    )
    messages = (
        Message.objects.select_related("conversation__shop", "conversation__fan").in_bulk(
            [r.pk for (recipient, _c), r in latest.items() if subscriptions.get(recipient)]
        )
        if subscriptions
        else {}
    )
    pushes = []
    deferred = []
    for (recipient, conversation_id), r in latest.items():
        if not subscriptions.get(recipient):
            continue  # no device to push to, now or after quiet hours
        m = messages[r.pk]
        if m.side == Side.SYSTEM and m.pk not in marketing and quiet[r.shop_id]:
            # A transactional notice to a fan in quiet hours: the push waits for them to end (issue 16).
            end = quiet_hours_end(m.conversation.shop, timezone.now())
            deferred.append((m.pk, conversation_id, recipient, end))
            continue
        for s in subscriptions[recipient]:
            payload = push_text(
                message=m,
                conversation=m.conversation,
                to_staff=m.side == Side.FAN,
                previews=recipient in previews,
            )
            pushes.append(Push(s, payload, f"c{conversation_id}"))
    result = pushes_send(pushes)
    result["online"] = len([r for r in recipients if r in online])
    result["deferred"] = deferred_pushes_store(deferred)
    return result


def push_to_user(*, user_id: int, payload: dict[str, Any], topic: str) -> dict[str, int]:
    """A push that is not a message (a digest, a due reminder) to each of the user's devices."""
    pushes = [Push(s, payload, topic) for s in PushSubscription.objects.filter(user_id=user_id)]
    return pushes_send(pushes)


# --- sending -------------------------------------------------------------------------------------------

_local = threading.local()
_vapid_lock = threading.Lock()
_vapid_cache: dict[str, tuple[float, dict[str, str]]] = {}
_vapid_key: list[Any] = []


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def vapid_headers(endpoint: str) -> dict[str, str]:
    """The VAPID Authorization header for the endpoint's push service, signed once per origin per hour
    (the JWT is valid 12 h): 10,000 pushes to one service sign once, not 10,000 times."""
    parts = urlsplit(endpoint)
    audience = f"{parts.scheme}://{parts.netloc}"
    now = time.time()
    with _vapid_lock:
        cached = _vapid_cache.get(audience)
        if cached and cached[0] > now + 3600:
            return cached[1]
        if not _vapid_key or _vapid_key[0] != settings.FANSI_VAPID_PRIVATE_KEY:
            _vapid_key[:] = [
                settings.FANSI_VAPID_PRIVATE_KEY,
                Vapid.from_string(settings.FANSI_VAPID_PRIVATE_KEY),
            ]
        exp = int(now) + 12 * 3600
        headers = _vapid_key[1].sign({"aud": audience, "exp": exp, "sub": settings.FANSI_VAPID_SUBJECT})
        _vapid_cache[audience] = (exp, headers)
        return headers


def _send_one(push: Push) -> str:
    s = push.subscription
    if not endpoint_sendable(s.endpoint):
        return "refused"
    headers = {**vapid_headers(s.endpoint), "Topic": push.topic, "Urgency": "normal"}
    try:
        response = WebPusher(
            {"endpoint": s.endpoint, "keys": {"p256dh": s.p256dh, "auth": s.auth}},
            requests_session=_session(),
        ).send(
            json.dumps(push.payload, ensure_ascii=False),
            headers,
            ttl=settings.FANSI_PUSH["TTL_S"],
            content_encoding="aes128gcm",
            timeout=settings.FANSI_PUSH["TIMEOUT_S"],
        )
    except (requests.RequestException, ValueError) as exc:
        logger.warning("push to subscription %s failed: %r", s.pk, exc)
        return "failed"
    if response.status_code in (404, 410):
        return "gone"
    if response.status_code >= 300:
        logger.warning("push to subscription %s answered %s", s.pk, response.status_code)
        return "failed"
    return "ok"


def pushes_send(pushes: list[Push]) -> dict[str, int]:
    """Send from a thread pool (network only, no database in the threads); then one UPDATE for the
    accepted ones and one DELETE for the gone ones."""
    counts = {"sent": 0, "gone": 0, "failed": 0}
    if not pushes or not settings.FANSI_VAPID_PRIVATE_KEY:
        return counts
    threads = max(1, min(settings.FANSI_PUSH["THREADS"], len(pushes)))
    if threads == 1:
        outcomes = [_send_one(p) for p in pushes]
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="push") as pool:
            outcomes = list(pool.map(_send_one, pushes))
    ok = [p.subscription.pk for p, o in zip(pushes, outcomes, strict=True) if o == "ok"]
    gone = [p.subscription.pk for p, o in zip(pushes, outcomes, strict=True) if o == "gone"]
    if ok:
        PushSubscription.objects.filter(pk__in=ok).update(last_ok_at=timezone.now())
    if gone:
        PushSubscription.objects.filter(pk__in=gone).delete()
    counts.update(sent=len(ok), gone=len(gone), failed=len(outcomes) - len(ok) - len(gone))
    return counts
