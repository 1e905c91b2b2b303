from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.models import Shop


class Fan(models.Model):
    """One person's relationship with one shop; each shop sees only its own row."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="fans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fan_of")
    display_name = models.CharField(_("display name"), max_length=100)
    notes = models.TextField(_("private notes"), blank=True)
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)
    joined_via = models.CharField(max_length=32, default="invite")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_fans",
    )
    # Maintained by purchases and pledges, so lists can filter and sort without aggregating.
    total_spend = models.DecimalField(_("total spend"), max_digits=12, decimal_places=2, default=0)
    pledge_count = models.PositiveIntegerField(_("pledges"), default=0)
    promotions_opt_out = models.BooleanField(_("no promotions"), default=False)
    # The fan's switch on /me/privacy/: no personalised recommendations, their chat never becomes features,
    # and they are never listed among "fans most likely to join" (recommend).
    personalisation_opt_out = models.BooleanField(_("no personalisation"), default=False)
    # The fan's birthday (month and day, no year), only if they chose to share it with this shop on
    # /me/privacy/; a birthday journey greets them on the day (journeys).
    birthday_month = models.PositiveSmallIntegerField(_("birthday month"), null=True, blank=True)
    birthday_day = models.PositiveSmallIntegerField(_("birthday day"), null=True, blank=True)
    # Copy of the fan's FanTag ids, kept by fans.services.tagging, for reading one fan's tags (recommend serving).
    # Unindexed so tag changes update the row in place; segment filters use FanTagSet (fans.models.crm).
    tag_ids = models.JSONField(default=list, blank=True, editable=False)
    # The code a fan's share links carry (?ref=), given on first share (fans.chat.referrals), so rows loaded
    # in bulk need none; who brought this fan in, one level only (no commissions on commissions).
    referral_code = models.CharField(max_length=16, unique=True, null=True, blank=True, editable=False)
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referred_fans",
        verbose_name=_("invited by"),
    )

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_fan"
        verbose_name = _("fan")
        verbose_name_plural = _("fans")
        constraints = [
            models.UniqueConstraint(fields=["shop", "user"], name="fan_unique_per_shop"),
            models.CheckConstraint(condition=~Q(referred_by=models.F("id")), name="fan_not_self_referred"),
            models.CheckConstraint(
                condition=Q(birthday_month__isnull=True, birthday_day__isnull=True)
                | Q(birthday_month__gte=1, birthday_month__lte=12, birthday_day__gte=1, birthday_day__lte=31),
                name="fan_birthday_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "joined_at"]),
            models.Index(fields=["shop", "assigned_to"], name="fan_shop_assignee"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.shop})"


class Side(models.TextChoices):
    FAN = "fan", _("Fan")
    SHOP = "shop", _("Shop")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")


class MessageKind(models.TextChoices):
    TEXT = "text", _("Text")
    IMAGE = "image", _("Image")
    PRODUCT_CARD = "product_card", _("Product card")
    CAMPAIGN_CARD = "campaign_card", _("Campaign card")
    SYSTEM = "system", _("System notice")
    ORDER_CARD = "order_card", _("Order card")  # balance due, payment, shipment: from the platform only


class Conversation(models.Model):
    """The private conversation between a shop and one of its fans."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="conversations")
    fan = models.OneToOneField(Fan, on_delete=models.CASCADE, related_name="conversation")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    last_seq = models.PositiveBigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    # The inbox's order: moved by the fan writing and by a person answering, not by broadcasts, the bot or
    # the platform's notices, so a broadcast to 150 fans does not bury the ones waiting for an answer.
    activity_at = models.DateTimeField(default=timezone.now)
    # The fan wrote last and nobody (a person or the bot) has answered since: the inbox's 待回复 filter.
    awaiting_reply = models.BooleanField(default=False)
    shop_read_seq = models.PositiveBigIntegerField(default=0)
    fan_read_seq = models.PositiveBigIntegerField(default=0)
    shop_unread = models.PositiveIntegerField(default=0)
    fan_unread = models.PositiveIntegerField(default=0)
    # Handoff: the bot stays quiet once a person has replied, until someone turns it back on.
    bot_paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_conversation"
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            models.UniqueConstraint(fields=["shop", "fan"], name="conversation_unique_shop_fan"),
            models.CheckConstraint(
                condition=Q(shop_read_seq__lte=models.F("last_seq")), name="conv_shop_read_le_last"
            ),
            models.CheckConstraint(
                condition=Q(fan_read_seq__lte=models.F("last_seq")), name="conv_fan_read_le_last"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "-last_message_at"], name="conv_shop_activity"),
            models.Index(fields=["shop", "-activity_at", "-id"], name="conv_shop_inbox_order"),
            # The triage filters: each a small slice of a shop's conversations, in inbox order.
            models.Index(
                fields=["shop", "-activity_at", "-id"],
                condition=Q(awaiting_reply=True),
                name="conv_shop_awaiting",
            ),
            models.Index(
                fields=["shop", "-activity_at", "-id"],
                condition=Q(shop_unread__gt=0),
                name="conv_shop_unread",
            ),
            models.Index(fields=["assigned_to", "-activity_at", "-id"], name="conv_assignee_order"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.shop_id}/{self.fan_id}"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sent_messages",
    )
    side = models.CharField(max_length=8, choices=Side.choices)
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.TEXT)
    text = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    image = models.FileField(upload_to="chat/%Y/%m/", blank=True)
    thumbnail = models.FileField(upload_to="chat/%Y/%m/", blank=True)
    image_width = models.PositiveIntegerField(null=True, blank=True)
    image_height = models.PositiveIntegerField(null=True, blank=True)
    client_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps its name from before fans/ was split into apps.
        db_table = "fans_message"
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
            models.CheckConstraint(condition=Q(kind__in=MessageKind.values), name="message_kind_valid"),
            models.CheckConstraint(condition=Q(side__in=Side.values), name="message_side_valid"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="message_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"
