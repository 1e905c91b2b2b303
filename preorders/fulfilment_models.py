"""Per-fan fulfilment: the parcels a factory order's units go out in, and a fan's after-sales requests.

Kept beside models.py (which re-exports these) so fulfilment's tables read as one room. A Shipment is one
fan's parcel (carrier and tracking number) out of one factory order; its ShipmentItems say which pledges it
carries. It goes shipped -> delivered (or lost) and is then closed by the fan's receipt or automatically
seven days after delivery. An AfterSalesRequest asks the shop for a refund or a return on a delivered
pledge; an approved one is paid out through a Credit (preorders.models), like every money owed to a fan.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fans.chat.models import Fan
from preorders.models import MONEY, FactoryOrder, Pledge
from preorders.money_models import Credit


class ShipmentStatus(models.TextChoices):
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    LOST = "lost", _("Lost")


class ConfirmedBy(models.TextChoices):
    FAN = "fan", _("The fan confirmed receipt")
    AUTO = "auto", _("Confirmed automatically")


class Shipment(models.Model):
    """One fan's parcel out of a factory order."""

    factory_order = models.ForeignKey(FactoryOrder, on_delete=models.PROTECT, related_name="shipments")
    # The one fan the parcel goes to: every pledge in it is theirs.
    fan = models.ForeignKey(Fan, on_delete=models.PROTECT, related_name="shipments")
    carrier = models.CharField(_("carrier"), max_length=60)
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    shipped_at = models.DateTimeField(_("shipped at"))
    status = models.CharField(max_length=12, choices=ShipmentStatus.choices, default=ShipmentStatus.SHIPPED)
    delivered_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # receipt confirmed: the order is closed
    confirmed_by = models.CharField(max_length=8, choices=ConfirmedBy.choices, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # None: recorded through the factory's signed board
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(carrier="") & ~Q(tracking_number=""), name="shipment_carrier_tracking_set"
            ),
            models.CheckConstraint(
                condition=~Q(status=ShipmentStatus.DELIVERED) | Q(delivered_at__isnull=False),
                name="shipment_delivered_has_time",
            ),
            # Receipt is confirmed only of a delivered parcel, and says by whom.
            models.CheckConstraint(
                condition=Q(confirmed_at__isnull=True, confirmed_by="")
                | Q(
                    confirmed_at__isnull=False,
                    confirmed_by__in=ConfirmedBy.values,
                    status=ShipmentStatus.DELIVERED,
                ),
                name="shipment_confirmed_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["tracking_number"], name="shipment_tracking_number"),
            models.Index(fields=["fan", "-created_at"], name="shipment_fan_recent"),
            # The auto-confirm sweep: delivered, not yet confirmed, oldest first.
            models.Index(
                fields=["delivered_at"],
                condition=Q(status="delivered", confirmed_at__isnull=True),
                name="shipment_to_autoconfirm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number} ({self.status})"


class ShipmentItem(models.Model):
    """A pledge (its whole quantity) in a parcel. `factory_order` and `lost` copy the shipment's, so the
    database itself keeps a pledge in at most one parcel per order that is not lost."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="items")
    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="shipment_items")
    factory_order = models.ForeignKey(FactoryOrder, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    lost = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("shipment item")
        verbose_name_plural = _("shipment items")
        constraints = [
            models.UniqueConstraint(fields=["pledge", "shipment"], name="shipmentitem_unique_pledge"),
            models.UniqueConstraint(
                fields=["factory_order", "pledge"],
                condition=Q(lost=False),
                name="shipmentitem_one_live_per_order",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="shipmentitem_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: pledge {self.pledge_id} x{self.quantity}"


class AfterSalesKind(models.TextChoices):
    REFUND = "refund", _("Refund")
    RETURN = "return", _("Return")


class AfterSalesStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the shop")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")


class AfterSalesRequest(models.Model):
    """A fan's request for a refund or a return on a delivered pledge; the shop approves or declines."""

    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="after_sales")
    kind = models.CharField(_("kind"), max_length=8, choices=AfterSalesKind.choices)
    reason = models.CharField(_("reason"), max_length=500)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(max_length=3, default="CNY")
    photo = models.ImageField(_("photo"), upload_to="after_sales/", blank=True)
    status = models.CharField(max_length=10, choices=AfterSalesStatus.choices, default=AfterSalesStatus.OPEN)
    decision_reason = models.CharField(_("decision reason"), max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    credit = models.OneToOneField(
        Credit, null=True, blank=True, on_delete=models.PROTECT, related_name="after_sales_request"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("after-sales request")
        verbose_name_plural = _("after-sales requests")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AfterSalesKind.values), name="aftersales_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=AfterSalesStatus.values), name="aftersales_status_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="aftersales_amount_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="aftersales_reason_set"),
            # One open request per pledge at a time.
            models.UniqueConstraint(
                fields=["pledge"], condition=Q(status="open"), name="aftersales_one_open_per_pledge"
            ),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True)
                | (~Q(status="open") & Q(decided_at__isnull=False)),
                name="aftersales_decided_consistent",
            ),
            # An approved request is paid through its credit; a declined one says why.
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(credit__isnull=False), name="aftersales_approved_credit"
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decision_reason=""), name="aftersales_declined_reason"
            ),
        ]
        indexes = [models.Index(fields=["pledge", "status"], name="aftersales_pledge_status")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} on pledge {self.pledge_id} ({self.status})"
