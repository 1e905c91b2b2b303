from django.urls import URLPattern, path

from c2m.forecast import api as forecast_api

# /api/campaigns/<id>/forecast/ sits beside preorders' campaign routes (none of which is forecast/).
api: list[URLPattern] = [
    path(
        "campaigns/<int:campaign_id>/forecast/",
        forecast_api.CampaignForecastApi.as_view(),
        name="api-campaign-forecast",
    ),
]
pages: list[URLPattern] = []
