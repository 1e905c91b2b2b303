"""工厂优选: each factory's scorecard, computed from data (never typed in) by preorders.scorecards."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from preorders.models import MONEY
from shops.models import Factory


class FactoryScorecard(models.Model):
    """One row per factory, rewritten set-based by preorders.scorecards.scorecards_recompute."""

    factory = models.OneToOneField(Factory, on_delete=models.CASCADE, related_name="scorecard")
    # Paid pledges due (ship_by passed, or shipped) and those shipped by their campaign's ship_by.
    due_units = models.PositiveIntegerField(default=0)
    on_time_units = models.PositiveIntegerField(default=0)
    on_time_rate = models.FloatField(null=True, blank=True)
    late_compensations = models.PositiveIntegerField(default=0)  # 慢就赔 credits paid out
    late_compensation_amount = models.DecimalField(**MONEY, default=0)
    delivered_pledges = models.PositiveIntegerField(default=0)
    refunded_pledges = models.PositiveIntegerField(default=0)  # an approved after-sales request
    refund_rate = models.FloatField(null=True, blank=True)
    fulfilled_orders = models.PositiveIntegerField(default=0)  # factory orders shipped or delivered
    reviews_avg = models.FloatField(null=True, blank=True)  # stars of its products' reviews
    rating_score = models.FloatField(null=True, blank=True)  # 红黑榜
    score = models.FloatField(default=0)  # the rank: higher is better
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("factory scorecard")
        verbose_name_plural = _("factory scorecards")
        indexes = [models.Index(fields=["-score"], name="scorecard_score")]

    def __str__(self) -> str:
        return f"{self.factory_id}: {self.score:.3f}"
