"""The owner's chat bot: phrase rules that suggest tags, FAQ answers, per-fan attention budget, broadcasts."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.limits import MESSAGE_MAX_LENGTH
from fans.chat.models import Fan, Message
from fans.crm.models import JobStatus, Tag
from shops.models import Shop


class PhraseRule(models.Model):
    """ "油皮" → skin_type:oily. Maintained by platform admins; a shop may add its own."""

    shop = models.ForeignKey(
        Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="phrase_rules"
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="phrase_rules")
    phrase = models.CharField(_("phrase"), max_length=64)
    language = models.CharField(max_length=8, choices=[("zh", "中文"), ("en", "English")], default="zh")
    # Starts at the admin's estimate; confirmations and rejections move it (learned weight).
    confidence = models.FloatField(default=0.8)
    confirmed = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_phraserule"
        verbose_name = _("phrase rule")
        verbose_name_plural = _("phrase rules")
        constraints = [
            models.UniqueConstraint(
                fields=["tag", "phrase"], condition=Q(shop__isnull=True), name="phrase_platform_unique"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="phrase_confidence_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phrase} → {self.tag_id}"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")


class TagSuggestion(models.Model):
    """A tag the bot read in a fan's message, waiting for a person to confirm or reject it."""

    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="tag_suggestions")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(PhraseRule, null=True, on_delete=models.SET_NULL, related_name="suggestions")
    message = models.ForeignKey(Message, null=True, on_delete=models.SET_NULL, related_name="+")
    phrase = models.CharField(max_length=64)
    confidence = models.FloatField()
    status = models.CharField(
        max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # One suggestion per fan and tag, ever: a rejection is remembered and never suggested again.
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_tagsuggestion"
        constraints = [models.UniqueConstraint(fields=["fan", "tag"], name="suggestion_unique_fan_tag")]

    def __str__(self) -> str:
        return f"{self.tag_id} for {self.fan_id} ({self.status})"


class BotSettings(models.Model):
    """Per-shop bot behaviour and the fan attention budget (like WeCom's caps on mass messages)."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="bot_settings")
    enabled = models.BooleanField(default=True)
    promo_per_day = models.PositiveSmallIntegerField(default=1)
    promo_per_week = models.PositiveSmallIntegerField(default=3)
    quiet_start = models.TimeField(default=dt.time(22, 0))
    quiet_end = models.TimeField(default=dt.time(8, 0))
    business_start = models.TimeField(default=dt.time(9, 0))
    business_end = models.TimeField(default=dt.time(21, 0))
    # Opt-in: an unexpected bot line in a private chat is worse than a late human answer.
    away_enabled = models.BooleanField(default=False)
    away_message = models.CharField(
        max_length=500, default="您好，现在不在营业时间，我们上班后会第一时间回复您～"
    )

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_botsettings"

    def __str__(self) -> str:
        return f"bot settings of {self.shop_id}"


class FaqRule(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="faq_rules")
    keywords = models.CharField(
        _("keywords"), max_length=200, help_text=_("comma-separated; any one matches")
    )
    answer = models.TextField(_("answer"), max_length=2000)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_faqrule"
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.keywords


class CannedReply(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="canned_replies")
    title = models.CharField(max_length=60)
    text = models.TextField(max_length=2000, help_text="{fan_name}, {shop_name}, {staff_name}")

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_cannedreply"

    def __str__(self) -> str:
        return self.title


class DeliveryStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    SKIPPED_BUDGET = "skipped_budget", _("Skipped: over the attention budget")
    SKIPPED_OPT_OUT = "skipped_opt_out", _("Skipped: fan opted out of promotions")
    SKIPPED_QUIET = "skipped_quiet", _("Skipped: quiet hours")
    SKIPPED_NO_CHANNEL = "skipped_no_channel", _("Skipped: no way to reach the fan")
    # A broadcast that falls in quiet hours waits for them to end (due_at); the budget is asked again then.
    DEFERRED = "deferred", _("Deferred to the end of quiet hours")
    CANCELLED = "cancelled", _("Cancelled before it went out")


class Broadcast(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="broadcasts")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16)
    text = models.TextField(blank=True, max_length=MESSAGE_MAX_LENGTH)
    card = models.JSONField(default=dict, blank=True)
    promotional = models.BooleanField(default=True)
    selection = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    queued = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    skipped_budget = models.PositiveIntegerField(default=0)
    skipped_opt_out = models.PositiveIntegerField(default=0)
    skipped_quiet = models.PositiveIntegerField(default=0)
    skipped_no_channel = models.PositiveIntegerField(default=0)
    # Fans whose delivery waits for the end of quiet hours; each becomes sent or skipped when it is due.
    deferred = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # "Send later": the fans an earlier broadcast skipped for budget or quiet hours, sent at this time by the
    # beat (broadcasts_due). Until then heartbeat_at equals it, so the sweeper leaves the broadcast alone.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="send_later"
    )
    # The worker's lease (core.jobs): renewed with every batch; for a queued broadcast, when it was last dispatched.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_broadcast"
        indexes = [
            models.Index(
                fields=["status", "heartbeat_at"],
                condition=Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
                name="broadcast_unfinished",
            ),
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status=JobStatus.QUEUED, scheduled_at__isnull=False),
                name="broadcast_scheduled",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed__lte=models.F("queued")), name="broadcast_processed_le_queued"
            )
        ]

    def __str__(self) -> str:
        return f"broadcast #{self.pk} ({self.status})"


class PromoDelivery(models.Model):
    """Every promotional message a fan was sent or spared: the attention-budget ledger."""

    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="promo_deliveries")
    source = models.CharField(max_length=16)  # bot_card, campaign_card, broadcast, campaign_update
    status = models.CharField(max_length=24, choices=DeliveryStatus.choices)
    broadcast = models.ForeignKey(
        Broadcast, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # When it was decided, or, once sent, when it went out (the budget counts sends by this time).
    created_at = models.DateTimeField(db_index=True)
    # A deferred delivery goes out at this time (the end of the fan's quiet hours), within the budget then.
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_promodelivery"
        indexes = [
            models.Index(fields=["fan", "status", "-created_at"], name="promo_fan_status_time"),
            models.Index(fields=["due_at"], condition=Q(status="deferred"), name="promo_deferred_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "fan"],
                condition=Q(broadcast__isnull=False),
                name="promo_once_per_broadcast",
            ),
            models.CheckConstraint(
                condition=~Q(status="deferred") | Q(due_at__isnull=False), name="promo_deferred_has_due_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.fan_id}: {self.status}"


class PhraseRuleShopCounts(models.Model):
    """One shop's confirmations and rejections of one phrase rule: past a floor of evidence they replace
    the platform's pooled figure for that shop (fans/bot/services/suggestions.py)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(PhraseRule, on_delete=models.CASCADE, related_name="shop_counts")
    confirmed = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "rule"], name="phrase_shop_counts_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id} in {self.shop_id}: +{self.confirmed} -{self.rejected}"
