from django.urls import path

from recommend import views

urlpatterns = [
    path("recommend/models/", views.model_page, name="recommend-models"),
    path("recommend/models/status/", views.model_status, name="recommend-models-status"),
    path("recommend/models/train/", views.model_train_now, name="recommend-models-train"),
]
