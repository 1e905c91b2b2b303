"""Campaigns, tiers, pledges, the payments ledger, subscriptions and factory orders (C2M)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fans.chat.models import Fan
from shops.models import FactoryProduct, Product, Shop, Variant

MONEY = {"max_digits": 12, "decimal_places": 2}


class CampaignKind(models.TextChoices):
    GROUP = "group", _("Group pre-order")
    SUBSCRIPTION = "subscription", _("Subscription")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LIVE = "live", _("Live")
    # Contexts of their own: a job that "succeeded" is 已完成, a campaign that did is 已成团 (it reached its target).
    SUCCEEDED = "succeeded", pgettext_lazy("campaign status", "Succeeded")
    FAILED = "failed", pgettext_lazy("campaign status", "Failed")
    ENDED = "ended", _("Ended")  # a subscription after its last cycle


class LapseRule(models.TextChoices):
    FORFEIT = "forfeit", _("The deposit is forfeited")
    REFUND = "refund", _("The deposit is refunded")


class Cadence(models.TextChoices):
    WEEKLY = "weekly", _("Every week")
    BIWEEKLY = "biweekly", _("Every two weeks")
    MONTHLY = "monthly", _("Every month")


class Campaign(models.Model):
    """A group pre-order (all-or-nothing by deadline) or a subscription (a box per cycle)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="campaigns")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="campaigns")
    # Copied at creation so roll-ups stay put if the shop relinks its product later.
    factory_product = models.ForeignKey(
        FactoryProduct, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    kind = models.CharField(max_length=16, choices=CampaignKind.choices, default=CampaignKind.GROUP)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    target_quantity = models.PositiveIntegerField(_("target quantity"))
    cap = models.PositiveIntegerField(_("cap"), null=True, blank=True)
    deadline = models.DateTimeField(_("deadline"))
    deposit_percent = models.DecimalField(_("deposit %"), max_digits=5, decimal_places=2)
    per_fan_limit = models.PositiveIntegerField(_("per-fan limit"), null=True, blank=True)
    base_unit_price = models.DecimalField(_("unit price before tiers"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    committed_quantity = models.PositiveIntegerField(_("committed quantity"), default=0)
    final_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    # Subscriptions: the first delivery is `deadline`; later ones follow the cadence.
    cadence = models.CharField(max_length=16, choices=Cadence.choices, blank=True)
    cycles = models.PositiveIntegerField(null=True, blank=True)
    cutoff_hours = models.PositiveIntegerField(default=0)
    # Group campaigns: the balance (尾款) is due by balance_deadline; an unpaid pledge then lapses by
    # lapse_rule. Every paid unit not shipped by ship_by earns late_compensation_percent of what was paid.
    balance_deadline = models.DateTimeField(_("balance deadline"), null=True, blank=True)
    lapse_rule = models.CharField(
        _("unpaid balance rule"), max_length=8, choices=LapseRule.choices, default=LapseRule.FORFEIT
    )
    ship_by = models.DateTimeField(_("ship by"), null=True, blank=True)
    late_compensation_percent = models.DecimalField(
        _("late-shipment compensation %"), max_digits=5, decimal_places=2, default=5
    )
    balance_reminded = models.PositiveSmallIntegerField(default=0)  # reminders sent: 0, 1 (24 h), 2 (2 h)
    lapsed_at = models.DateTimeField(null=True, blank=True)  # the balance-deadline sweep finished
    # The ship-by sweep finished: every paid unit unshipped at ship_by has its compensation paid out.
    late_checked_at = models.DateTimeField(null=True, blank=True)
    # After lapses, paid units per factory SKU below its MOQ: {"sku": {"paid": n, "moq": m}}; the owner
    # decides (moq_decision) before the factory order is built.
    moq_shortfall = models.JSONField(null=True, blank=True)
    moq_decision = models.CharField(max_length=16, blank=True)  # ship_anyway | cancel | top_up
    topup_deadline = models.DateTimeField(null=True, blank=True)  # waitlisted fans' pay-by after a top-up
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)  # outcome fixed (status succeeded/failed)
    closed_at = models.DateTimeField(null=True, blank=True)  # every pledge settled and everyone told
    # Owner management (preorders.services.campaign_manage): closing early or cancelling moves `deadline` to
    # that moment and keeps the announced one here; an extension (once) moves it later.
    original_deadline = models.DateTimeField(_("announced deadline"), null=True, blank=True)
    closed_early_at = models.DateTimeField(_("closed early at"), null=True, blank=True)
    extended_at = models.DateTimeField(_("extended at"), null=True, blank=True)
    # A cancelled campaign is a failed one (every deposit refunded) that the owner ended before its deadline.
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=200, blank=True)
    # The product variants on offer; none chosen means all of them.
    variants = models.ManyToManyField(
        Variant, verbose_name=_("variants on offer"), blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=CampaignKind.values), name="campaign_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="campaign_status_valid"
            ),
            models.CheckConstraint(condition=Q(target_quantity__gte=1), name="campaign_target_positive"),
            models.CheckConstraint(
                condition=Q(cap__isnull=True) | Q(cap__gte=F("target_quantity")),
                name="campaign_cap_ge_target",
            ),
            # The last line of defence against overselling.
            models.CheckConstraint(
                condition=Q(cap__isnull=True) | Q(committed_quantity__lte=F("cap")),
                name="campaign_committed_le_cap",
            ),
            models.CheckConstraint(
                condition=Q(deposit_percent__gte=0, deposit_percent__lte=100),
                name="campaign_deposit_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(per_fan_limit__isnull=True) | Q(per_fan_limit__gte=1),
                name="campaign_per_fan_limit_positive",
            ),
            models.CheckConstraint(condition=Q(base_unit_price__gte=0), name="campaign_price_non_negative"),
            models.CheckConstraint(
                condition=Q(kind=CampaignKind.GROUP, cadence="")
                | Q(kind=CampaignKind.SUBSCRIPTION, cadence__in=Cadence.values),
                name="campaign_cadence_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(cycles__isnull=True) | Q(cycles__gte=1), name="campaign_cycles_positive"
            ),
            models.CheckConstraint(
                condition=Q(balance_deadline__isnull=True) | Q(balance_deadline__gt=F("deadline")),
                name="campaign_balance_after_deadline",
            ),
            models.CheckConstraint(
                condition=Q(ship_by__isnull=True)
                | Q(balance_deadline__isnull=True, ship_by__gt=F("deadline"))
                | Q(ship_by__gt=F("balance_deadline")),
                name="campaign_ship_by_after_balance",
            ),
            models.CheckConstraint(
                condition=Q(late_compensation_percent__gte=0, late_compensation_percent__lte=100),
                name="campaign_compensation_percent_range",
            ),
            models.CheckConstraint(condition=Q(lapse_rule__in=LapseRule.values), name="campaign_lapse_rule"),
        ]
        indexes = [
            models.Index(fields=["status", "deadline"], name="campaign_due"),
            models.Index(fields=["shop", "-created_at"], name="campaign_shop_recent"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def display_status(self) -> str:
        """The status as a person reads it: a live group campaign past its deadline is closing (being
        settled), and a failed one the owner ended is cancelled."""
        if self.cancelled_at is not None:
            return "cancelled"
        if (
            self.status == CampaignStatus.LIVE
            and self.kind == CampaignKind.GROUP
            and self.deadline <= timezone.now()
        ):
            return "closing"
        return self.status

    @property
    def display_status_label(self) -> str:
        extra = {"cancelled": _("Cancelled"), "closing": _("Closing")}
        shown = self.display_status
        return str(extra[shown]) if shown in extra else self.get_status_display()


class Tier(models.Model):
    """From `min_quantity` committed units up, every unit costs `unit_price`."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tiers")
    min_quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "min_quantity"], name="tier_unique_min_quantity"),
            models.CheckConstraint(condition=Q(min_quantity__gte=1), name="tier_min_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="tier_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"≥{self.min_quantity}: {self.unit_price}"


class PledgeStatus(models.TextChoices):
    PENDING = "pending", _("Paying deposit")  # quantity reserved, deposit charge in flight
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")  # subscriptions only
    CANCELLED = "cancelled", _("Cancelled")
    CONFIRMED = "confirmed", _("Confirmed")  # the campaign succeeded; balance due
    PAID = "paid", _("Paid in full")  # balance paid: certain demand
    LAPSED = "lapsed", _("Lapsed")  # the balance was not paid by the balance deadline
    REFUNDED = "refunded", _("Refunded")  # the campaign failed or its factory order was cancelled


# Statuses whose quantity counts toward the campaign's committed quantity.
HOLDING_STATUSES = (PledgeStatus.PENDING, PledgeStatus.ACTIVE, PledgeStatus.PAUSED)


class Pledge(models.Model):
    """A fan's commitment (or subscription) with a deposit. Copies name, SKU and price at placement."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pledges")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="pledges")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pledges")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="pledges")
    variant_name = models.CharField(max_length=100)
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    deposit_amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=16, choices=PledgeStatus.choices, default=PledgeStatus.PENDING)
    final_unit_price = models.DecimalField(**MONEY, null=True, blank=True)
    balance_due = models.DecimalField(**MONEY, null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)  # paid in full
    cancel_reason = models.CharField(max_length=200, blank=True)
    # Set while a change's extra deposit is being charged: no other change or cancel starts meanwhile.
    change_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("pledge")
        verbose_name_plural = _("pledges")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="pledge_quantity_positive"),
            models.CheckConstraint(condition=Q(deposit_amount__gte=0), name="pledge_deposit_non_negative"),
            models.CheckConstraint(condition=Q(status__in=PledgeStatus.values), name="pledge_status_valid"),
            models.CheckConstraint(
                condition=~Q(status__in=[PledgeStatus.CONFIRMED, PledgeStatus.PAID])
                | Q(final_unit_price__isnull=False, balance_due__isnull=False),
                name="pledge_confirmed_priced",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="pledge_campaign_status"),
            models.Index(fields=["campaign", "fan"], name="pledge_campaign_fan"),
            models.Index(fields=["user", "-created_at"], name="pledge_user_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.sku} x{self.quantity}"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for creating a pledge; a retry returns `response`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    pledge = models.ForeignKey(Pledge, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField(null=True, blank=True)  # null while the first request is still running
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class CycleStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CUT = "cut", _("Cut off")


class SubscriptionCycle(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="cycle_set")
    number = models.PositiveIntegerField()
    delivery_at = models.DateTimeField()
    cutoff_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=CycleStatus.choices, default=CycleStatus.OPEN)
    quantity = models.PositiveIntegerField(default=0)  # demand fixed at the cut-off

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="cycle_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="cycle_number_positive"),
            models.CheckConstraint(
                condition=Q(cutoff_at__lte=F("delivery_at")), name="cycle_cutoff_before_delivery"
            ),
            models.CheckConstraint(condition=Q(status__in=CycleStatus.values), name="cycle_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "cutoff_at"], name="cycle_due")]

    def __str__(self) -> str:
        return f"{self.campaign_id} #{self.number}"


class SubscriptionSkip(models.Model):
    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="skips")
    cycle = models.ForeignKey(SubscriptionCycle, on_delete=models.CASCADE, related_name="skips")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pledge", "cycle"], name="skip_unique_pledge_cycle")]

    def __str__(self) -> str:
        return f"skip {self.pledge_id} @ {self.cycle_id}"


class DeliveryStatus(models.TextChoices):
    CHARGING = "charging", _("Charging")
    CHARGED = "charged", _("Paid")
    DUNNING = "dunning", _("Payment failed, retrying")
    SKIPPED = "skipped", _("Skipped (unpaid)")


class CycleDelivery(models.Model):
    """A subscription's box in one cycle: charged at the cut-off; only a charged box is demand."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="deliveries")
    cycle = models.ForeignKey(SubscriptionCycle, on_delete=models.CASCADE, related_name="deliveries")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.CHARGING)
    attempts = models.PositiveSmallIntegerField(default=0)  # charge attempts made
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # dunning: the next retry
    charged_at = models.DateTimeField(null=True, blank=True)
    added_to_order = models.BooleanField(default=False)  # counted in its cycle's factory order

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pledge", "cycle"], name="delivery_unique_pledge_cycle"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="delivery_quantity_positive"),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_dunning_due")]

    def __str__(self) -> str:
        return f"{self.pledge_id} @ {self.cycle_id} x{self.quantity}"


class CampaignNotice(models.Model):
    """A fan told about a campaign outcome; makes the notify step safe to rerun."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "fan", "kind"], name="notice_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.fan_id} {self.kind}"


# Factory orders, money owed and told to fans (cash lines, credits, notices, the waitlist), the fruit box
# and fulfilment live in their own modules; imported here so Django registers them with the app (money first: fulfilment
# refers to Credit).
# The fruit box's tables live in their own module; imported here so Django registers them with the app.
from preorders.board_link_models import BoardLink  # noqa: E402, F401
from preorders.box_models import (  # noqa: E402, F401
    BoxItem,
    BoxSwap,
    CycleChange,
    RetentionOffer,
    SubscriptionPrefs,
)
from preorders.factory_order_models import (  # noqa: E402, F401
    FactoryOrder,
    FactoryOrderLine,
    FactoryOrderSource,
    FactoryOrderStatus,
)

# Fulfilment's tables live in their own module; imported here so Django registers them with the app.
from preorders.fulfilment_models import (  # noqa: E402, F401
    AfterSalesRequest,
    Shipment,
    ShipmentItem,
)
from preorders.money_models import (  # noqa: E402, F401
    Credit,
    CreditKind,
    LedgerEntry,
    LedgerKind,
    PledgeNotice,
    WaitlistEntry,
    WaitlistStatus,
)
from preorders.review_models import Review, ReviewPhoto  # noqa: E402, F401

# The factory scorecards (工厂优选) live in their own module; imported here so Django registers them.
from preorders.scorecard_models import FactoryScorecard  # noqa: E402, F401
