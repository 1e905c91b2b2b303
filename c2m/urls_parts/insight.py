from django.urls import URLPattern, path

from c2m.insight import api, views

api_patterns = [
    path(
        "factory-board/<str:token>/insight/", api.BoardInsightApi.as_view(), name="api-factory-board-insight"
    ),
    path(
        "factory-board/<str:token>/insight.pdf",
        api.BoardInsightExportApi.as_view(fmt="pdf"),
        name="api-factory-board-insight-pdf",
    ),
    path(
        "factory-board/<str:token>/insight.csv",
        api.BoardInsightExportApi.as_view(fmt="csv"),
        name="api-factory-board-insight-csv",
    ),
    path(
        "campaigns/<int:campaign_id>/insight/", api.CampaignInsightApi.as_view(), name="api-campaign-insight"
    ),
]

api: list[URLPattern] = api_patterns
pages: list[URLPattern] = [
    path("campaigns/<int:campaign_id>/insight/", views.campaign_insight_page, name="campaign-insight"),
]
