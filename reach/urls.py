from django.urls import path

from reach import views

urlpatterns = [
    # The service worker at the root, so its scope is the whole site (Service-Worker-Allowed: /).
    path("sw.js", views.service_worker, name="service-worker"),
]
