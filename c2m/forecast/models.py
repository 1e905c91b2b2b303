"""The forecast made at launch, kept so that after the close the campaign page shows forecast against actual."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from preorders.models import Campaign


class CampaignForecast(models.Model):
    """One per campaign: the forecast from data before its launch (`as_of`), frozen. Written once by
    c2m.forecast.services.campaign_forecast_snapshot; a later run finds it and leaves it."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateTimeField()
    # [{"variant", "name", "sku", "expected", "low", "high"}] in the API's shape, and the total
    variants = models.JSONField(default=list)
    total = models.JSONField(default=dict)
    inputs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("campaign forecast")
        verbose_name_plural = _("campaign forecasts")

    def __str__(self) -> str:
        return f"forecast of campaign {self.campaign_id}"
