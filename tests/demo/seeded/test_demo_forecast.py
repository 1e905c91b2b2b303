"""The demo's AQ 预判: live campaigns have launch forecasts, the shipped one shows forecast against actual."""

from c2m.forecast.models import CampaignForecast
from demo.data.c2m_forecast import demo_forecast_ensure
from preorders.models import Campaign, CampaignStatus


def test_demo_live_campaigns_have_forecasts_and_the_shipped_one_its_actuals(demo_output):
    from django.contrib.auth import get_user_model

    from tests.conftest import api_client_for

    live = Campaign.objects.filter(status=CampaignStatus.LIVE)
    assert live.exists()
    assert CampaignForecast.objects.filter(campaign__in=live).count() == live.count()
    shipped = Campaign.objects.get(title="春季新品拼团（已发货）")
    owner = get_user_model().objects.get(username="owner")
    body = api_client_for(owner).get(f"/api/campaigns/{shipped.pk}/forecast/").json()
    assert body["snapshot"] is True and body["closed"] is True
    assert sum(v["actual"] for v in body["variants"]) == body["total"]["actual"] > 0
    assert demo_forecast_ensure() == 0  # a second run freezes nothing new
