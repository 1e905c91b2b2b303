"""AQ 预判 demo: every launched campaign gets its launch forecast frozen (what beat does every minute), so the
live campaigns show their forecast and the closed ones (the shipped jacket) forecast against actual."""

from c2m.forecast.models import CampaignForecast
from c2m.forecast.services import campaign_forecast_snapshot
from preorders.models import Campaign, CampaignStatus


def demo_forecast_ensure() -> int:
    """Snapshots made now (0 on a second run: a campaign's snapshot is taken once)."""
    due = (
        Campaign.objects.filter(launched_at__isnull=False)
        .exclude(status=CampaignStatus.DRAFT)
        .exclude(pk__in=CampaignForecast.objects.values("campaign_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in due if campaign_forecast_snapshot(campaign_id=pk) is not None)
