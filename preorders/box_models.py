"""The fruit box: what goes into a subscription's box, each fan's changes to it, and cancel reasons.

Kept beside models.py (which re-exports these) so the box's tables read as one room. A campaign's items
are its standard box (is_default) plus options a fan may swap in at equal price; a fan's own rhythm, box
size and never-list live on SubscriptionPrefs; one-off changes to one cycle's box (a delay, a gift) on
CycleChange; every cancel-with-a-reason and the retention offer it met on RetentionOffer.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from preorders.models import MONEY, Campaign, Pledge, SubscriptionCycle

# A box is laid out over the week from its delivery: day 0 .. day 6.
BOX_DAYS = 7
MAX_RIPEN_DAYS = BOX_DAYS - 1
MAX_DELAY_DAYS = 6


class BoxItem(models.Model):
    """One fruit in a subscription's box (is_default) or an option to swap in; ready to eat ripen_days
    after delivery. An option swapped in takes the quantity of the item it replaces, so the box keeps its
    value."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="box_items")
    name = models.CharField(_("name"), max_length=60)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    ripen_days = models.PositiveSmallIntegerField(_("ready to eat after (days)"), default=0)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    is_default = models.BooleanField(_("in the standard box"), default=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("box item")
        verbose_name_plural = _("box items")
        ordering = ["campaign", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="boxitem_unique_name"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="boxitem_price_non_negative"),
            models.CheckConstraint(
                condition=Q(ripen_days__gte=0, ripen_days__lte=MAX_RIPEN_DAYS), name="boxitem_ripen_in_week"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=99), name="boxitem_quantity_range"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="boxitem_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} x{self.quantity}"


class Frequency(models.TextChoices):
    WEEKLY = "weekly", _("Every week")
    BIWEEKLY = "biweekly", _("Every two weeks")


class BoxSize(models.TextChoices):
    STANDARD = "standard", _("Standard box")
    SMALL = "small", _("Small box (half)")


class SubscriptionPrefs(models.Model):
    """A fan's standing choices for their box; no row means weekly, standard size, nothing excluded."""

    pledge = models.OneToOneField(
        Pledge, on_delete=models.CASCADE, primary_key=True, related_name="box_prefs"
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.WEEKLY)
    # Biweekly fans get this cycle and every second one after it (the next open cycle when they changed).
    frequency_from = models.PositiveIntegerField(null=True, blank=True)
    box_size = models.CharField(max_length=8, choices=BoxSize.choices, default=BoxSize.STANDARD)
    never_items = models.ManyToManyField(BoxItem, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("box preferences")
        verbose_name_plural = _("box preferences")
        constraints = [
            models.CheckConstraint(condition=Q(frequency__in=Frequency.values), name="prefs_frequency_valid"),
            models.CheckConstraint(condition=Q(box_size__in=BoxSize.values), name="prefs_box_size_valid"),
            models.CheckConstraint(
                condition=~Q(frequency=Frequency.BIWEEKLY) | Q(frequency_from__isnull=False),
                name="prefs_biweekly_has_start",
            ),
        ]

    def __str__(self) -> str:
        return f"prefs {self.pledge_id}: {self.frequency} {self.box_size}"


class BoxSwap(models.Model):
    """In this fan's boxes, `item` (of the standard box) is replaced by `option` of equal unit price."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="box_swaps")
    item = models.ForeignKey(BoxItem, on_delete=models.CASCADE, related_name="+")
    option = models.ForeignKey(BoxItem, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pledge", "item"], name="boxswap_one_per_item"),
            models.CheckConstraint(condition=~Q(item=models.F("option")), name="boxswap_not_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.pledge_id}: {self.item_id} -> {self.option_id}"


class CycleChangeKind(models.TextChoices):
    DELAY = "delay", _("Delay")
    GIFT = "gift", _("Gift")


class CycleChange(models.Model):
    """A change to one fan's box in one cycle: delivered some days later, or sent as a gift."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="cycle_changes")
    cycle = models.ForeignKey(SubscriptionCycle, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=8, choices=CycleChangeKind.choices)
    delay_days = models.PositiveSmallIntegerField(null=True, blank=True)
    gift_name = models.CharField(max_length=50, blank=True)
    gift_phone = models.CharField(max_length=20, blank=True)
    gift_address = models.CharField(max_length=200, blank=True)
    gift_message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("box change")
        verbose_name_plural = _("box changes")
        constraints = [
            models.UniqueConstraint(fields=["pledge", "cycle", "kind"], name="cyclechange_one_per_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=CycleChangeKind.values), name="cyclechange_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=CycleChangeKind.DELAY, delay_days__gte=1, delay_days__lte=MAX_DELAY_DAYS)
                    & Q(gift_name="", gift_phone="", gift_address="", gift_message="")
                )
                | (
                    Q(kind=CycleChangeKind.GIFT, delay_days__isnull=True)
                    & ~Q(gift_name="")
                    & ~Q(gift_phone="")
                    & ~Q(gift_address="")
                ),
                name="cyclechange_fields_match_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pledge_id} @ {self.cycle_id}"


class CancelReason(models.TextChoices):
    TOO_MUCH = "too_much", _("Too much fruit")
    AWAY = "away", _("I'm going away")
    PRICE = "price", _("Too expensive")
    OTHER = "other", _("Something else")


class RetentionOfferKind(models.TextChoices):
    BIWEEKLY = "biweekly", _("A box every two weeks")
    SKIP = "skip", _("Skip the next box")
    SMALL_BOX = "small_box", _("A smaller box")


class RetentionOutcome(models.TextChoices):
    SHOWN = "shown", _("Shown")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Cancelled anyway")


# The one offer each reason may meet (none for "other").
OFFER_FOR_REASON = {
    CancelReason.TOO_MUCH: RetentionOfferKind.BIWEEKLY,
    CancelReason.AWAY: RetentionOfferKind.SKIP,
    CancelReason.PRICE: RetentionOfferKind.SMALL_BOX,
}


class RetentionOffer(models.Model):
    """A fan on the way out: why, what we offered instead (blank: nothing fitted), and what they chose."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="retention_offers")
    reason = models.CharField(max_length=16, choices=CancelReason.choices)
    note = models.CharField(max_length=200, blank=True)
    offer = models.CharField(max_length=16, choices=RetentionOfferKind.choices, blank=True)
    outcome = models.CharField(
        max_length=16, choices=RetentionOutcome.choices, default=RetentionOutcome.SHOWN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("retention offer")
        verbose_name_plural = _("retention offers")
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=CancelReason.values), name="retention_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=RetentionOutcome.values), name="retention_outcome_valid"
            ),
            models.CheckConstraint(
                condition=Q(offer="")
                | Q(reason=CancelReason.TOO_MUCH, offer=RetentionOfferKind.BIWEEKLY)
                | Q(reason=CancelReason.AWAY, offer=RetentionOfferKind.SKIP)
                | Q(reason=CancelReason.PRICE, offer=RetentionOfferKind.SMALL_BOX),
                name="retention_offer_matches_reason",
            ),
            models.CheckConstraint(
                condition=~Q(outcome=RetentionOutcome.ACCEPTED) | ~Q(offer=""),
                name="retention_accepted_has_offer",
            ),
            models.CheckConstraint(
                condition=Q(outcome=RetentionOutcome.SHOWN) | Q(decided_at__isnull=False),
                name="retention_decided_at_set",
            ),
        ]
        indexes = [models.Index(fields=["pledge", "outcome"], name="retention_pledge_outcome")]

    def __str__(self) -> str:
        return f"{self.pledge_id} {self.reason} -> {self.offer or '-'} ({self.outcome})"
