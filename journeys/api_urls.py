from django.urls import path

from journeys import api

urlpatterns = [
    path("journeys/", api.JourneysApi.as_view(), name="api-journeys"),
    path("journeys/<int:journey_id>/", api.JourneyApi.as_view(), name="api-journey"),
    path("journeys/<int:journey_id>/enable/", api.JourneyEnableApi.as_view(), name="api-journey-enable"),
    path("journeys/<int:journey_id>/disable/", api.JourneyDisableApi.as_view(), name="api-journey-disable"),
    path("me/birthday/", api.MyBirthdayApi.as_view(), name="api-my-birthday"),
]
