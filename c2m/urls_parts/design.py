from django.urls import URLPattern, path

from c2m.design import api as design_api
from c2m.design import views

api: list[URLPattern] = [
    path("design-rounds/", design_api.RoundsApi.as_view(), name="api-design-rounds"),
    path("design-rounds/<int:round_id>/", design_api.RoundApi.as_view(), name="api-design-round"),
    path(
        "design-rounds/<int:round_id>/launch/",
        design_api.RoundLaunchApi.as_view(),
        name="api-design-round-launch",
    ),
    path(
        "design-rounds/<int:round_id>/votes/",
        design_api.RoundVotesApi.as_view(),
        name="api-design-round-votes",
    ),
    path(
        "design-rounds/<int:round_id>/votes/mine/",
        design_api.MyVotesApi.as_view(),
        name="api-design-round-votes-mine",
    ),
    path(
        "design-rounds/<int:round_id>/comments/",
        design_api.RoundCommentsApi.as_view(),
        name="api-design-round-comments",
    ),
    path(
        "design-rounds/<int:round_id>/forecast/",
        design_api.RoundForecastApi.as_view(),
        name="api-design-round-forecast",
    ),
    path(
        "design-rounds/<int:round_id>/suggestions/",
        design_api.RoundSuggestionsApi.as_view(),
        name="api-design-round-suggestions",
    ),
    path(
        "design-pre-pledges/<int:pre_pledge_id>/confirm/",
        design_api.PrePledgeConfirmApi.as_view(),
        name="api-design-pre-pledge-confirm",
    ),
    path(
        "design-pre-pledges/<int:pre_pledge_id>/decline/",
        design_api.PrePledgeDeclineApi.as_view(),
        name="api-design-pre-pledge-decline",
    ),
]
pages: list[URLPattern] = [
    path("design-rounds/", views.rounds_page, name="design-rounds"),
    path("design-rounds/new/", views.round_new_page, name="design-round-new"),
    path("design-rounds/<int:round_id>/", views.round_page, name="design-round"),
]
