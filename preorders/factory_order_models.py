"""Factory orders (C2M): certain demand for one factory product, rolled up from paid pledges or boxes."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from preorders.models import MONEY, Campaign, SubscriptionCycle
from shops.models import FactoryProduct, FactoryVariant


class FactoryOrderStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    CONFIRMED = "confirmed", _("Confirmed")
    IN_PRODUCTION = "in_production", _("In production")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class FactoryOrder(models.Model):
    """Certain demand for one factory product: successful campaigns of one delivery window, or one cycle."""

    factory_product = models.ForeignKey(FactoryProduct, on_delete=models.PROTECT, related_name="orders")
    window_start = models.DateField(_("delivery window (week of)"))
    cycle = models.OneToOneField(
        SubscriptionCycle, null=True, blank=True, on_delete=models.PROTECT, related_name="factory_order"
    )
    status = models.CharField(
        max_length=16, choices=FactoryOrderStatus.choices, default=FactoryOrderStatus.DRAFT
    )
    currency = models.CharField(max_length=3, default="CNY")
    # When it went to the factory: a factory that had its full lead time before ship_by pays 慢就赔.
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("factory order")
        verbose_name_plural = _("factory orders")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=FactoryOrderStatus.values), name="factoryorder_status_valid"
            ),
            # One open (draft) group roll-up per factory product and window; later campaigns join it.
            models.UniqueConstraint(
                fields=["factory_product", "window_start"],
                condition=Q(status="draft", cycle__isnull=True),
                name="factoryorder_one_draft_per_window",
            ),
        ]

    def __str__(self) -> str:
        return f"FO-{self.pk} {self.factory_product.name} {self.window_start}"


class FactoryOrderLine(models.Model):
    order = models.ForeignKey(FactoryOrder, on_delete=models.CASCADE, related_name="lines")
    factory_variant = models.ForeignKey(
        FactoryVariant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField(default=0)
    deposits = models.DecimalField(**MONEY, default=0)
    value = models.DecimalField(**MONEY, default=0)

    class Meta:
        ordering = ["sku"]
        constraints = [models.UniqueConstraint(fields=["order", "sku"], name="factoryorderline_unique_sku")]

    def __str__(self) -> str:
        return f"{self.sku} x{self.quantity}"


class FactoryOrderSource(models.Model):
    """A campaign or cycle whose demand went into an order: rolled up once, ever."""

    order = models.ForeignKey(FactoryOrder, on_delete=models.CASCADE, related_name="sources")
    campaign = models.OneToOneField(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    cycle = models.OneToOneField(
        SubscriptionCycle, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(campaign__isnull=True) ^ Q(cycle__isnull=True),
                name="factoryordersource_one_origin",
            ),
        ]

    def __str__(self) -> str:
        return f"FO-{self.order_id} <- {self.campaign_id or self.cycle_id}"
