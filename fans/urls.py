from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path

from fans import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.FansiLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("join/<str:invite_code>/", views.join, name="join"),
    path("s/<slug:shop_slug>/", views.fan_chat, name="fan-chat"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/c/<int:conversation_id>/", views.inbox, name="inbox-conversation"),
]

# Daphne (unlike runserver) serves no static files; in DEBUG the app does it itself so the chat works
# out of the box. Production serves /static/ from STATIC_ROOT in front of the app.
urlpatterns += staticfiles_urlpatterns()
