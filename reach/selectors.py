"""Reads for reach: a person's devices and reminders, and the inbox's "reminders" filter."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import NotFound
from fans.chat.access import access_conversation
from fans.chat.models import Side
from reach.models import PushSubscription, Reminder, ReminderStatus, ScheduledMessage, ScheduledMessageStatus

OPEN_STATUSES = (ReminderStatus.PENDING, ReminderStatus.FIRED)


def push_subscription_list(*, user: AbstractBaseUser) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")


def reminder_list(
    *, user: AbstractBaseUser, conversation_id: int | None = None, open_only: bool = True
) -> QuerySet[Reminder]:
    qs = Reminder.objects.filter(user_id=user.pk).select_related("conversation__fan")
    if conversation_id is not None:
        qs = qs.filter(conversation_id=conversation_id)
    if open_only:
        qs = qs.filter(status__in=OPEN_STATUSES)
    return qs.order_by("remind_at", "pk")


def reminder_to_dict(r: Reminder) -> dict[str, Any]:
    return {
        "id": r.pk,
        "conversation": r.conversation_id,
        "at": r.remind_at.isoformat(),
        "cancel_on_reply": r.cancel_on_reply,
        "note": r.note,
        "status": r.status,
        "status_label": str(ReminderStatus(r.status).label),
        "fired_at": r.fired_at.isoformat() if r.fired_at else None,
    }


def subscription_to_dict(s: PushSubscription) -> dict[str, Any]:
    return {
        "id": s.pk,
        "user_agent": s.user_agent,
        "created_at": s.created_at.isoformat(),
        "last_ok_at": s.last_ok_at.isoformat() if s.last_ok_at else None,
    }


class RemindersFilter:
    """The inbox's "reminders" filter and chip count: conversations with one of my reminders due."""

    label = _("Reminders")

    def q(self, user: AbstractBaseUser) -> Q:
        due = Reminder.objects.filter(
            conversation_id=OuterRef("pk"), user_id=user.pk, status=ReminderStatus.FIRED
        )
        return Q(Exists(due))


def scheduled_message_list(*, user: AbstractBaseUser, conversation_id: int) -> QuerySet[ScheduledMessage]:
    """The conversation's scheduled messages not yet sent, and the last ones sent or failed (shop staff only)."""
    _conversation, side = access_conversation(user, conversation_id)
    if side != Side.SHOP:
        raise NotFound()
    return (
        ScheduledMessage.objects.filter(conversation_id=conversation_id)
        .exclude(status=ScheduledMessageStatus.CANCELLED)
        .select_related("author")
        .order_by("-send_at", "-pk")[:20]
    )
