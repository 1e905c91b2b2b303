"""What the platform owes and tells each fan: the pledge cash lines (a view over the ledger), credits
(price protection, 慢就赔, after-sales refunds), once-only notices, and the waitlist."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fans.chat.models import Fan
from preorders.models import MONEY, Campaign, Pledge
from shops.models import Variant


class LedgerKind(models.TextChoices):
    CHARGE = "charge", _("Charge")
    REFUND = "refund", _("Refund")


class LedgerEntry(models.Model):
    """Read-only: the provider leg of every ledger transaction of a pledge, as charge or refund lines.

    A database view (migration 0003) over payments.LedgerTransaction/LedgerLeg, which are the books.
    """

    pledge = models.ForeignKey(
        Pledge, on_delete=models.DO_NOTHING, db_constraint=False, related_name="ledger"
    )
    kind = models.CharField(max_length=8, choices=LedgerKind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=100)
    provider_id = models.CharField(max_length=100)
    note = models.CharField(max_length=24)  # the ledger transaction's kind
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "preorders_pledge_cash"
        verbose_name = _("pledge cash line")
        verbose_name_plural = _("pledge cash lines")

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.reference})"


class CreditKind(models.TextChoices):
    LATE_COMPENSATION = "late_compensation", _("Late-shipment compensation (慢就赔)")
    PRICE_PROTECTION = "price_protection", _("Price protection (贵就赔)")
    AFTER_SALES_REFUND = "after_sales_refund", _("After-sales refund")


class Credit(models.Model):
    """Money the platform owes back to a fan, written before it is paid out (so a rerun finishes it).

    `reference` is the ledger transaction's and the provider refund's: once per reference, ever.
    """

    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="credits")
    kind = models.CharField(max_length=24, choices=CreditKind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    reference = models.CharField(max_length=100, unique=True)
    paid_out = models.BooleanField(default=False)  # through the provider, with its ledger transaction
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("credit")
        verbose_name_plural = _("credits")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_amount_positive"),
            models.CheckConstraint(condition=Q(kind__in=CreditKind.values), name="credit_kind_valid"),
        ]
        indexes = [models.Index(fields=["paid_out", "created_at"], name="credit_unpaid")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference})"


class PledgeNotice(models.Model):
    """A fan told about a step of their pledge (balance due, reminder, lapse, shipment): once each."""

    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pledge", "kind"], name="pledgenotice_unique")]

    def __str__(self) -> str:
        return f"{self.pledge_id} {self.kind}"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered a place")
    EXPIRED = "expired", _("Not needed")


class WaitlistEntry(models.Model):
    """A fan who wants in when a campaign is full or closed: offered a place if lapses leave a MOQ short."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="waitlist")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING)
    pledge = models.OneToOneField(Pledge, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist entries")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="waitlist_unique_user"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="waitlist_quantity_positive"),
            models.CheckConstraint(
                condition=Q(status__in=WaitlistStatus.values), name="waitlist_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status", "created_at"], name="waitlist_queue")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.user_id} x{self.quantity}"
