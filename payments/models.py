"""Our payments (intents), the double-entry ledger, and the simulated provider's own books.

Ledger: a LedgerTransaction is one money movement; its LedgerLegs sum to zero (debits positive, credits
negative). PostgreSQL enforces the sum with a deferred constraint trigger (migration 0001); every write
goes through payments.ledger, which refuses an unbalanced posting on every database.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2}


class Account(models.TextChoices):
    """Accounts by role; the shop, factory, campaign and pledge are dimensions on the transaction."""

    PROVIDER = "provider", _("Cash at the payment provider")  # asset
    FANS_HELD = "fans_held", _("Fans' money held")  # liability: paid in, not yet released
    FORFEITED = "forfeited", _("Forfeited deposits")  # held for the shop until release
    FACTORY_PAYABLE = "factory_payable", _("Payable to factories")
    SHOP_PAYABLE = "shop_payable", _("Payable to shops (commission)")
    PLATFORM_FEES = "platform_fees", _("Platform fees")
    PRICE_CREDITS = "price_credits", _("Price-protection credits given")  # memo pair with LIST_PRICE
    LIST_PRICE = "list_price", _("Sales at the price shown when pledging")


class TransactionKind(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit")
    BALANCE = "balance", _("Balance")
    CYCLE_CHARGE = "cycle_charge", _("Subscription cycle charge")
    REFUND = "refund", _("Refund")
    FORFEIT = "forfeit", _("Forfeited deposit")
    PRICE_PROTECTION = "price_protection", _("Price protection")
    COMPENSATION = "compensation", _("Late-shipment compensation")
    AFTER_SALES_REFUND = "after_sales_refund", _("After-sales refund")
    RELEASE = "release", _("Release to factory, shop and platform")


# Kinds whose provider leg is money in from a fan.
CHARGE_KINDS = (TransactionKind.DEPOSIT, TransactionKind.BALANCE, TransactionKind.CYCLE_CHARGE)


class LedgerTransaction(models.Model):
    kind = models.CharField(max_length=24, choices=TransactionKind.choices)
    # Our idempotency reference: one transaction per reference, ever (the provider's reference too).
    reference = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(**MONEY)  # the headline amount, positive
    currency = models.CharField(max_length=3, default="CNY")
    shop_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    pledge_id = models.BigIntegerField(null=True, blank=True)
    factory_id = models.BigIntegerField(null=True, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=TransactionKind.values), name="ledgertxn_kind_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledgertxn_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["campaign_id", "kind"], name="ledgertxn_campaign"),
            models.Index(fields=["shop_id", "kind"], name="ledgertxn_shop"),
            models.Index(fields=["pledge_id"], name="ledgertxn_pledge"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.reference})"


class LedgerLeg(models.Model):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="legs")
    account = models.CharField(max_length=24, choices=Account.choices)
    amount = models.DecimalField(**MONEY)  # debit > 0, credit < 0

    class Meta:
        verbose_name = _("ledger leg")
        verbose_name_plural = _("ledger legs")
        constraints = [
            models.CheckConstraint(condition=Q(account__in=Account.values), name="ledgerleg_account_valid"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledgerleg_amount_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.amount}"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Paid")
    FAILED = "failed", _("Failed")


class Payment(models.Model):
    """A charge we asked the provider for (balance, cycle): pending until its reply or notification."""

    purpose = models.CharField(max_length=24)  # a key of payments.hooks.payment_settled
    reference = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    shop_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    pledge_id = models.BigIntegerField(null=True, blank=True)
    # What is paid for: the pledge (balance) or the cycle delivery (cycle charge).
    subject_id = models.BigIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=1)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - unique when set
    provider_id = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payment_unique_idempotency_key",
            ),
            # At most one charge in flight or done per pledge and purpose subject.
            models.UniqueConstraint(
                fields=["purpose", "subject_id"],
                condition=Q(status__in=["pending", "succeeded"]),
                name="payment_one_live_per_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="payment_pending"),
            models.Index(fields=["pledge_id", "purpose"], name="payment_pledge"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.amount} ({self.reference}, {self.status})"


# --- the simulated provider's own books ---------------------------------------------------------------


class SimulatedTransaction(models.Model):
    """The simulated provider's record of a charge or refund: its truth, shared by every process."""

    provider_id = models.CharField(max_length=40, unique=True)
    reference = models.CharField(max_length=100)
    kind = models.CharField(max_length=8)  # charge | refund
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    user_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12)  # pending | succeeded | declined | voided
    charge_reference = models.CharField(max_length=100, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("simulated provider transaction")
        verbose_name_plural = _("simulated provider transactions")
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="simtxn_unique_reference"),
        ]
        indexes = [models.Index(fields=["status", "notified_at"], name="simtxn_unnotified")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.reference} {self.status}"


class SimulatorOutcome(models.TextChoices):
    OK = "ok", _("Succeed")
    DECLINE = "decline", _("Decline")
    TIMEOUT = "timeout", _("Time out (money moves, the answer is lost)")


class SimulatorRule(models.Model):
    """Tell the simulated provider what to answer a fan's next `times` charges (no user: everyone)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    outcome = models.CharField(max_length=8, choices=SimulatorOutcome.choices)
    times = models.PositiveIntegerField(default=1)  # charges left to answer this way
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment simulator rule")
        verbose_name_plural = _("payment simulator rules")
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=SimulatorOutcome.values), name="simrule_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id or '*'}: {self.outcome} x{self.times}"
