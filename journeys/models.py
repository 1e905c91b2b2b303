"""Lifecycle journeys: a trigger enrolls a fan, then waits and steps (send a message or card, add or remove a
tag) run from the beat. Per-step runs are the funnel's rows (entered / messaged / converted). docs/journeys.md"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fans.chat.models import Fan, Message
from fans.crm.models import Tag
from shops.models import Shop


class Trigger(models.TextChoices):
    FOLLOWED = "followed", _("Followed the shop")
    FIRST_PAID = "first_paid", _("First paid order")
    BALANCE_UNPAID = "balance_unpaid", _("Balance due and unpaid after 24 h")
    SUBSCRIPTION_SKIPPED = "subscription_skipped", _("Subscription skipped twice")
    LAPSED = "lapsed", _("Entered the lapsed tag")
    BIRTHDAY = "birthday", _("Birthday (if the fan shared it)")


# Notices a fan must get (the balance they owe): exempt from the marketing cap and opt-out, never from quiet hours.
TRANSACTIONAL_TRIGGERS = frozenset({Trigger.BALANCE_UNPAID})


class StepKind(models.TextChoices):
    WAIT = "wait", _("Wait")
    SEND_MESSAGE = "send_message", _("Send a message")
    SEND_CARD = "send_card", _("Send a card")
    ADD_TAG = "add_tag", _("Add a tag")
    REMOVE_TAG = "remove_tag", _("Remove a tag")


class Template(models.TextChoices):
    WELCOME = "welcome", _("Welcome")
    BALANCE_NUDGE = "balance_nudge", _("Balance-unpaid nudge")
    WINBACK = "winback", _("Win-back")


class Journey(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="journeys")
    # A ready-made journey keeps its template key (its name then follows the reader's language).
    template = models.CharField(max_length=24, choices=Template.choices, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    trigger = models.CharField(max_length=24, choices=Trigger.choices)
    transactional = models.BooleanField(default=False)  # derived from the trigger
    enabled = models.BooleanField(default=False)
    # Only events at or after this moment enroll: turning a journey on never reaches back into history.
    enabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "template"], condition=~Q(template=""), name="journey_one_per_template"
            ),
            models.CheckConstraint(condition=Q(trigger__in=Trigger.values), name="journey_trigger_valid"),
            models.CheckConstraint(
                condition=Q(enabled=False) | Q(enabled_at__isnull=False), name="journey_enabled_has_time"
            ),
        ]
        indexes = [models.Index(fields=["trigger", "enabled"], name="journey_trigger_enabled")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return str(Template(self.template).label) if self.template else str(Trigger(self.trigger).label)


class JourneyStep(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    # {"card": "recommended" | "campaign" | "product", "campaign": id, "product": id}
    card = models.JSONField(default=dict, blank=True)
    tag = models.ForeignKey(Tag, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["journey_id", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=StepKind.values), name="journeystep_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind="wait") | Q(wait_seconds__gt=0), name="journeystep_wait_positive"
            ),
        ]
        indexes = [models.Index(fields=["journey", "position"], name="journeystep_order")]

    def __str__(self) -> str:
        return f"{self.journey_id}#{self.position} {self.kind}"


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", _("In progress")
    DONE = "done", _("Finished")
    STOPPED = "stopped", _("Stopped")


class Enrollment(models.Model):
    """One fan in one journey for one occurrence of its trigger (trigger_ref): a rerun never enrolls twice."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="+")
    trigger_ref = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    step_index = models.PositiveSmallIntegerField(default=0)  # the next step to run
    next_run_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE)
    deferrals = models.PositiveIntegerField(default=0)  # times a send waited out quiet hours
    entered_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "fan", "trigger_ref"], name="enrollment_once"),
        ]
        indexes = [
            models.Index(fields=["next_run_at"], condition=Q(state="active"), name="enrollment_due"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.fan_id} {self.trigger_ref}"


class StepOutcome(models.TextChoices):
    SENT = "sent", _("Sent")
    SKIPPED_BUDGET = "skipped_budget", _("Skipped: over the attention budget")
    SKIPPED_OPT_OUT = "skipped_opt_out", _("Skipped: fan opted out of promotions")
    SKIPPED_NO_CHANNEL = "skipped_no_channel", _("Skipped: no way to reach the fan")
    NO_CONTENT = "no_content", _("Skipped: nothing to show (no campaign or product)")
    WAITED = "waited", _("Waited")
    TAGGED = "tagged", _("Tag changed")


class StepRun(models.Model):
    """An enrollment reaching a step (entered) and what came of it; once per enrollment and step."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(JourneyStep, on_delete=models.CASCADE, related_name="runs")
    outcome = models.CharField(max_length=24, choices=StepOutcome.choices)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enrollment", "step"], name="steprun_once")]
        indexes = [models.Index(fields=["step", "outcome"], name="steprun_step_outcome")]

    def __str__(self) -> str:
        return f"{self.enrollment_id}@{self.step_id}: {self.outcome}"


class TriggerWatermark(models.Model):
    """How far each trigger's event scan has got; the next scan starts a little before it (late commits)."""

    trigger = models.CharField(max_length=24, primary_key=True)
    scanned_to = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.trigger} → {self.scanned_to}"
