from django.urls import path

from recommend import api

urlpatterns = [
    path("recommend/card-clicks/", api.CardClickApi.as_view(), name="api-recommend-card-clicks"),
    path(
        "fans/<int:fan_id>/recommendations/",
        api.FanRecommendationsApi.as_view(),
        name="api-fan-recommendations",
    ),
    path(
        "fans/<int:fan_id>/recommendations/send/",
        api.FanRecommendationSendApi.as_view(),
        name="api-fan-recommendation-send",
    ),
    path(
        "products/<int:product_id>/likely-fans/", api.LikelyFansApi.as_view(), name="api-product-likely-fans"
    ),
    path(
        "products/<int:product_id>/likely-fans/save-segment/",
        api.LikelyFansSaveSegmentApi.as_view(),
        name="api-product-likely-fans-save-segment",
    ),
]
