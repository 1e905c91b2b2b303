from django.contrib.auth import views as auth_views
from django.urls import path

from fans.chat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.FansiLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("join/<str:invite_code>/", views.join, name="join"),
    path("s/<slug:shop_slug>/", views.fan_chat, name="fan-chat"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/c/<int:conversation_id>/", views.inbox, name="inbox-conversation"),
]
