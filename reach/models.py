"""Reaching people who are not looking: push subscriptions, digests' marks and follow-up reminders."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fans.chat.models import Conversation
from shops.models import Shop


class PushSubscription(models.Model):
    """One browser on one device that said yes to notifications (the Push API's subscription)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The last time the push service accepted a push for it.
    last_ok_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        indexes = [models.Index(fields=["user"], name="push_sub_user")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.endpoint[:60]}"


class PushPreference(models.Model):
    """A person's lock-screen privacy: by default a push says only who wrote, never what."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_preference"
    )
    previews = models.BooleanField(_("show message text on the lock screen"), default=False)

    class Meta:
        verbose_name = _("push preference")
        verbose_name_plural = _("push preferences")

    def __str__(self) -> str:
        return f"{self.user_id}: previews {'on' if self.previews else 'off'}"


class DigestSettings(models.Model):
    """A shop's digest: conversations awaiting a reply for longer than this are mailed to staff."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="digest_settings")
    unanswered_after_minutes = models.PositiveIntegerField(_("unanswered after (minutes)"), default=15)
    enabled = models.BooleanField(_("send digests"), default=True)

    class Meta:
        verbose_name = _("digest settings")
        verbose_name_plural = _("digest settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(unanswered_after_minutes__gte=1, unanswered_after_minutes__lte=10080),
                name="digest_minutes_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.shop_id}: {self.unanswered_after_minutes} min"


class DigestMark(models.Model):
    """The fan activity (Conversation.activity_at) a digest already reported: never again until it moves."""

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="digest_mark")
    activity_at = models.DateTimeField()
    digested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("digest mark")
        verbose_name_plural = _("digest marks")

    def __str__(self) -> str:
        return f"{self.conversation_id} @ {self.activity_at:%Y-%m-%d %H:%M}"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    FIRED = "fired", pgettext_lazy("reminder", "Due")
    DONE = "done", pgettext_lazy("reminder", "Done")
    CANCELLED = "cancelled", _("Cancelled")
    FAN_WROTE = "fan_wrote", _("Cancelled: the fan wrote first")


class Reminder(models.Model):
    """ "Remind me about this fan": a staff member's follow-up on one conversation."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders")
    remind_at = models.DateTimeField(_("remind at"))
    cancel_on_reply = models.BooleanField(_("cancel if the fan writes first"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReminderStatus.values), name="reminder_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(fired_at__isnull=True) | ~Q(status=ReminderStatus.PENDING),
                name="reminder_fired_not_pending",
            ),
        ]
        indexes = [
            models.Index(fields=["remind_at"], condition=Q(status="pending"), name="reminder_due"),
            models.Index(fields=["user", "status"], name="reminder_user_status"),
            models.Index(fields=["conversation", "status"], name="reminder_conv_status"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.conversation_id} @ {self.remind_at:%Y-%m-%d %H:%M}"


class ScheduledMessageStatus(models.TextChoices):
    PENDING = "pending", _("Scheduled")
    # Claimed by a beat: no longer editable; a claim older than a few minutes is retried (same client id).
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Not sent")


class ScheduledMessage(models.Model):
    """A staff member's message to one fan, sent at a time on the shop's clock (or, should that fall in quiet
    hours, when they end). Sent through the one message core as the author, with a fixed client id, so a
    retry after a killed worker finds the first message instead of sending a second."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="scheduled_messages"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(_("text"))
    # A text, or a card a person sent live in the fan's quiet hours (deferred to their end): the card's
    # request payload, built again (and the attention budget asked again) when it goes.
    kind = models.CharField(max_length=20, default="text")
    payload = models.JSONField(default=dict, blank=True)
    send_at = models.DateTimeField(_("send at"))
    # Set when quiet hours moved it: the time it was first asked for.
    asked_at = models.DateTimeField(null=True, blank=True)
    client_id = models.UUIDField(unique=True)
    status = models.CharField(
        max_length=10, choices=ScheduledMessageStatus.choices, default=ScheduledMessageStatus.PENDING
    )
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled message")
        verbose_name_plural = _("scheduled messages")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ScheduledMessageStatus.values), name="scheduled_message_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["send_at"], condition=Q(status="pending"), name="scheduled_message_due"),
            models.Index(fields=["conversation", "status"], name="scheduled_message_conv"),
        ]

    def __str__(self) -> str:
        return f"scheduled message #{self.pk} ({self.status})"


class DeferredPushState(models.TextChoices):
    PENDING = "pending", _("Waiting for quiet hours to end")
    # Claimed by a beat (pending → sending); a claim older than a few minutes is retried.
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    # Not sent, on purpose: the fan read it or came online meanwhile, or a later message replaced it.
    SKIPPED = "skipped", _("Not needed")


class DeferredPush(models.Model):
    """A transactional notice's push to a fan that fell in the shop's quiet hours: stored, and sent by the
    beat when they end (reach.services.deferred_push). One row per message and recipient, so a retried
    push task cannot queue it twice."""

    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    state = models.CharField(
        max_length=8, choices=DeferredPushState.choices, default=DeferredPushState.PENDING
    )
    reason = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("deferred push")
        verbose_name_plural = _("deferred pushes")
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="deferred_push_once"),
            models.CheckConstraint(
                condition=Q(state__in=DeferredPushState.values), name="deferred_push_state"
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(state="pending"), name="deferred_push_due"),
            models.Index(fields=["claimed_at"], condition=Q(state="sending"), name="deferred_push_claimed"),
        ]

    def __str__(self) -> str:
        return f"push of {self.message_id} to {self.user_id} ({self.state})"
