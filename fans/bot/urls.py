"""Bot pages (the REST API is in fans/api_urls.py)."""

from django.urls import path

from fans.bot import views as bot_views

urlpatterns = [
    path("bot/", bot_views.bot_settings, name="bot-settings"),
    path("broadcasts/", bot_views.broadcasts, name="broadcasts"),
]
