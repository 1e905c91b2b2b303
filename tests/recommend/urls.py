"""config.urls plus the recommend URLs, until the lead includes them in config/urls.py."""

from django.urls import include, path

from config.urls import urlpatterns as base_patterns

urlpatterns = [
    path("api/", include("recommend.api_urls")),
    path("", include("recommend.urls")),
    *base_patterns,
]
