from django.urls import path

from journeys import views

urlpatterns = [path("journeys/", views.journeys_page, name="journeys")]
