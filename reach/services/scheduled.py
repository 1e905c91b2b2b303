"""Scheduled single messages: staff write to one fan now, for a time on the shop's clock. The beat sends each
when due (deferring it to the end of quiet hours when it would fall inside them); until then it can be edited
or cancelled."""

import datetime as dt
import logging
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, Invalid, NotFound, RateLimited
from fans.bot.services.budget import quiet_hours_end, quiet_hours_now
from fans.chat.access import access_conversation
from fans.chat.append import text_check
from fans.chat.models import Side
from fans.chat.services import message_send
from reach.models import ScheduledMessage, ScheduledMessageStatus
from reach.services.reminders import reminder_time_parse

logger = logging.getLogger(__name__)

MIN_AHEAD = dt.timedelta(seconds=30)
MAX_AHEAD = dt.timedelta(days=90)
DUE_BATCH = 200


def _send_at_clean(value: object, *, tz_name: str) -> dt.datetime:
    try:
        at = reminder_time_parse(value, tz_name=tz_name)
    except Invalid:
        raise Invalid(_("send_at must be an ISO date and time."), code="send_at_invalid") from None
    now = timezone.now()
    if at < now + MIN_AHEAD:
        raise Invalid(_("The send time has passed; choose a time in the future."), code="send_at_past")
    if at > now + MAX_AHEAD:
        raise Invalid(_("A message can be scheduled at most 90 days ahead."), code="send_at_too_far")
    return at


def _staff_conversation(user: AbstractBaseUser, conversation_id: int):  # type: ignore[no-untyped-def]
    conversation, side = access_conversation(user, conversation_id)
    if side != Side.SHOP:
        raise NotFound()
    return conversation


def scheduled_message_create(
    *, user: AbstractBaseUser, conversation_id: int, text: object, send_at: object
) -> ScheduledMessage:
    """Shop staff only (anyone else gets NotFound); text checked as a sent message is, time 30 s to 90 days ahead."""
    conversation = _staff_conversation(user, conversation_id)
    if not isinstance(text, str):
        raise Invalid(_("text must be a string."))
    text = text.strip()
    text_check(text)
    at = _send_at_clean(send_at, tz_name=conversation.shop.timezone)
    return ScheduledMessage.objects.create(
        conversation=conversation, author=user, text=text, send_at=at, client_id=uuid.uuid4()
    )


def _own_pending(user: AbstractBaseUser, scheduled_id: int) -> ScheduledMessage:
    row = (
        ScheduledMessage.objects.select_for_update()
        .select_related("conversation__shop")
        .filter(pk=scheduled_id, author=user)
        .first()
    )
    if row is None:
        raise NotFound()
    if row.status != ScheduledMessageStatus.PENDING:
        raise Invalid(
            _("This message has been sent or cancelled; only a scheduled one can be changed."),
            code="scheduled_message_done",
        )
    return row


def scheduled_message_update(
    *, user: AbstractBaseUser, scheduled_id: int, text: object = None, send_at: object = None
) -> ScheduledMessage:
    """The author edits the text or the time until it is sent."""
    with transaction.atomic():
        row = _own_pending(user, scheduled_id)
        if text is None and send_at is None:
            raise Invalid(_("Nothing to change: give text or send_at."), code="nothing_to_change")
        if text is not None:
            if not isinstance(text, str):
                raise Invalid(_("text must be a string."))
            row.text = text.strip()
            text_check(row.text)
        if send_at is not None:
            row.send_at = _send_at_clean(send_at, tz_name=row.conversation.shop.timezone)
            row.asked_at = None
        row.save(update_fields=["text", "send_at", "asked_at"])
    return row


def scheduled_message_cancel(*, user: AbstractBaseUser, scheduled_id: int) -> ScheduledMessage:
    with transaction.atomic():
        row = _own_pending(user, scheduled_id)
        row.status = ScheduledMessageStatus.CANCELLED
        row.save(update_fields=["status"])
    return row


CLAIM_STALE = dt.timedelta(minutes=3)


def scheduled_messages_send_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat, every 10 s: send the due messages. A guarded UPDATE claims each row (pending → sending), so an
    edit or a cancel cannot race the send; the message goes with the row's fixed client id, so a rerun after a
    worker died between the message and the row's update (a stale claim) finds the first message."""
    now = now or timezone.now()
    counts = {"sent": 0, "deferred": 0, "failed": 0, "retry": 0}
    pending = ScheduledMessage.objects.filter(status=ScheduledMessageStatus.PENDING, send_at__lte=now)
    stale = ScheduledMessage.objects.filter(
        status=ScheduledMessageStatus.SENDING, claimed_at__lt=now - CLAIM_STALE
    )
    ids = list(pending.order_by("send_at", "pk").values_list("pk", flat=True)[:DUE_BATCH])
    ids += list(stale.order_by("pk").values_list("pk", flat=True)[:DUE_BATCH])
    for pk in ids:
        outcome = _send_one(pk, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _claim(pk: int, now: dt.datetime) -> ScheduledMessage | None:
    """pending and due (or a stale claim) → sending; None if someone else has it or it changed."""
    with transaction.atomic():
        row = (
            ScheduledMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("conversation__shop", "author")
            .filter(pk=pk)
            .first()
        )
        if row is None:
            return None
        due = row.status == ScheduledMessageStatus.PENDING and row.send_at <= now
        stale = row.status == ScheduledMessageStatus.SENDING and row.claimed_at < now - CLAIM_STALE
        if not (due or stale):
            return None
        shop = row.conversation.shop
        if due and quiet_hours_now(shop, now):
            # Quiet hours hold for a person's scheduled message too: it goes when they end.
            row.asked_at = row.asked_at or row.send_at
            row.send_at = quiet_hours_end(shop, now)
            row.save(update_fields=["send_at", "asked_at"])
            row.status = "deferred"  # not saved: tells the caller
            return row
        row.status, row.claimed_at = ScheduledMessageStatus.SENDING, now
        row.save(update_fields=["status", "claimed_at"])
        return row


def _send_one(pk: int, now: dt.datetime) -> str:
    row = _claim(pk, now)
    if row is None:
        return "retry"
    if row.status == "deferred":
        return "deferred"
    sending = ScheduledMessage.objects.filter(pk=pk, status=ScheduledMessageStatus.SENDING)
    try:
        # The message core's own durable transaction; the client id makes a second call return the first.
        message, _created = message_send(
            user=row.author,
            conversation_id=row.conversation_id,
            client_id=str(row.client_id),
            kind=row.kind,
            text=row.text,
            payload=row.payload or None,
        )
    except RateLimited:
        sending.update(status=ScheduledMessageStatus.PENDING, claimed_at=None)
        return "retry"  # the author's send rate: the next beat tries again
    except DomainError as exc:
        # The author left the team, the fan left the shop: say so on the row, and stop.
        sending.update(status=ScheduledMessageStatus.FAILED, error=str(exc)[:200])
        logger.info("scheduled message %s not sent: %s", pk, exc)
        return "failed"
    sending.update(status=ScheduledMessageStatus.SENT, message=message, sent_at=timezone.now())
    return "sent"


class QuietCardDeferral:
    """fans.chat's card deferral: a card a person sends live in the fan's quiet hours becomes a scheduled
    message at their end, with the send's client id (a resend finds the same row; the card, when it goes,
    is stored under that id)."""

    def defer(
        self,
        *,
        user: AbstractBaseUser,
        conversation,
        kind: str,
        text: str,
        payload,
        client_id,
        at: dt.datetime,
    ) -> dict[str, object]:  # type: ignore[no-untyped-def]
        row = ScheduledMessage.objects.filter(client_id=client_id).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = ScheduledMessage.objects.create(
                        conversation_id=conversation.pk,
                        author=user,
                        kind=kind,
                        text=text,
                        payload=payload if isinstance(payload, dict) else {},
                        send_at=at,
                        asked_at=timezone.now(),
                        client_id=client_id,
                    )
            except IntegrityError:  # the same send raced in
                row = ScheduledMessage.objects.get(client_id=client_id)
        if row.author_id != user.pk or row.conversation_id != conversation.pk:
            raise Invalid(_("client_id was already used in another conversation."))
        return scheduled_message_to_dict(row)


def scheduled_message_to_dict(row: ScheduledMessage) -> dict[str, object]:
    return {
        "id": row.pk,
        "conversation": row.conversation_id,
        "text": row.text,
        "kind": row.kind,
        "send_at": row.send_at,
        "asked_at": row.asked_at,
        "status": row.status,
        "message": row.message_id,
        "error": row.error,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }
