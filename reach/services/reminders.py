"""Follow-ups: "remind me about this fan". Set from the conversation, fired by beat every minute as an
inbox item (the "reminders" filter) and a push; cancelled when the fan writes first, if so asked."""

import datetime as dt
import functools

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from core.errors import Invalid, NotFound
from core.events import announce, user_group
from core.tasks import task_dispatch_on_commit
from core.zones import zone
from fans.chat.access import access_conversation
from fans.chat.models import Message, Side
from reach.models import Reminder, ReminderStatus
from reach.services.push import push_to_user

MAX_AHEAD = dt.timedelta(days=365)
FIRE_BATCH = 500


def reminder_time_parse(value: object, *, tz_name: str | None) -> dt.datetime:
    """An ISO datetime (a naive one, or a bare date at 09:00, is in the shop's time zone)."""
    if isinstance(value, dt.datetime):
        at = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            # A bare date first: Python's ISO parser would read it as midnight.
            day = parse_date(text) if len(text) == 10 else None
            at = dt.datetime.combine(day, dt.time(9, 0)) if day else parse_datetime(text)
        except ValueError:
            at = None
        if at is None:
            raise Invalid(_("at must be an ISO date and time."), code="reminder_at_invalid")
    else:
        raise Invalid(_("at must be an ISO date and time."), code="reminder_at_invalid")
    if timezone.is_naive(at):
        at = at.replace(tzinfo=zone(tz_name))
    return at


def reminder_create(
    *,
    user: AbstractBaseUser,
    conversation_id: int,
    at: object,
    cancel_on_reply: bool = False,
    note: str = "",
) -> Reminder:
    """Shop staff only (a fan, or anyone else, gets NotFound); the time must be ahead, within a year."""
    conversation, side = access_conversation(user, conversation_id)
    if side != Side.SHOP:
        raise NotFound()
    remind_at = reminder_time_parse(at, tz_name=conversation.shop.timezone)
    now = timezone.now()
    if remind_at <= now:
        raise Invalid(_("A reminder must be in the future."), code="reminder_in_past")
    if remind_at > now + MAX_AHEAD:
        raise Invalid(_("A reminder can be at most a year ahead."), code="reminder_too_far")
    if not isinstance(note, str):
        raise Invalid(_("note must be text."), code="reminder_note_invalid")
    return Reminder.objects.create(
        conversation=conversation,
        user=user,
        remind_at=remind_at,
        cancel_on_reply=bool(cancel_on_reply),
        note=note.strip()[:200],
        created_at=now,
    )


def reminder_close(*, user: AbstractBaseUser, reminder_id: int) -> Reminder:
    """Cancel a pending reminder, or mark a due one done (it leaves the inbox's reminders); own only."""
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id, user_id=user.pk).first()
        if reminder is None:
            raise NotFound()
        if reminder.status == ReminderStatus.PENDING:
            reminder.status = ReminderStatus.CANCELLED
        elif reminder.status == ReminderStatus.FIRED:
            reminder.status = ReminderStatus.DONE
        else:
            return reminder
        reminder.closed_at = timezone.now()
        reminder.save(update_fields=["status", "closed_at"])
        conversation_id, shop_id = reminder.conversation_id, reminder.conversation.shop_id
        frame = {
            "type": "reminder.closed",
            "reminder": reminder_id,
            "conversation": conversation_id,
            "shop": shop_id,
        }
        transaction.on_commit(functools.partial(announce, [user_group(user.pk)], frame))
    return reminder


def reminders_fire_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Fire reminders whose time has come, in batches, each under SKIP LOCKED so two beats never fire one
    twice. A "cancel if the fan writes first" reminder whose fan wrote since it was set is cancelled
    instead (the push task cancels most of these as the fan writes; this is the backstop)."""
    now = now or timezone.now()
    fired = cancelled = 0
    while True:
        with transaction.atomic():
            fan_wrote = Message.objects.filter(
                conversation_id=OuterRef("conversation_id"),
                side=Side.FAN,
                created_at__gt=OuterRef("created_at"),
            )
            due = list(
                Reminder.objects.select_for_update(skip_locked=True)
                .filter(status=ReminderStatus.PENDING, remind_at__lte=now)
                .annotate(fan_wrote=Exists(fan_wrote))
                .order_by("remind_at", "pk")[:FIRE_BATCH]
            )
            if not due:
                break
            stale = [r.pk for r in due if r.cancel_on_reply and r.fan_wrote]
            fire = [r for r in due if r.pk not in set(stale)]
            if stale:
                Reminder.objects.filter(pk__in=stale).update(status=ReminderStatus.FAN_WROTE, closed_at=now)
            if fire:
                Reminder.objects.filter(pk__in=[r.pk for r in fire]).update(
                    status=ReminderStatus.FIRED, fired_at=now
                )
                for r in fire:
                    task_dispatch_on_commit("reach.tasks.reminder_push_task", r.pk)
            fired += len(fire)
            cancelled += len(stale)
        if len(due) < FIRE_BATCH:
            break
    return {"fired": fired, "cancelled": cancelled}


def reminder_push(*, reminder_id: int) -> dict[str, int]:
    """A fired reminder reaches its owner: a frame to their open inboxes and a push to their devices."""
    reminder = (
        Reminder.objects.select_related("conversation__fan", "conversation__shop")
        .filter(pk=reminder_id, status=ReminderStatus.FIRED)
        .first()
    )
    if reminder is None:
        return {"sent": 0}
    conversation = reminder.conversation
    url = (
        reverse("inbox-conversation", args=[conversation.pk])
        + f"?shop={conversation.shop_id}&filter=reminders"
    )
    announce(
        [user_group(reminder.user_id)],
        {
            "type": "reminder.due",
            "reminder": reminder.pk,
            "conversation": conversation.pk,
            "shop": conversation.shop_id,
            "fan": conversation.fan.display_name,
            "note": reminder.note,
            "url": url,
        },
    )
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Follow up: %(fan)s") % {"fan": conversation.fan.display_name}
        body = reminder.note or _("You asked to be reminded about this fan.")
    payload = {"title": title[:60], "body": body[:120], "tag": f"reminder-{reminder.pk}", "url": url}
    return push_to_user(user_id=reminder.user_id, payload=payload, topic=f"r{reminder.pk}")
