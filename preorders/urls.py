from django.urls import path

from preorders import views

urlpatterns = [
    path("factory-orders/<int:order_id>/export.csv", views.factory_order_csv, name="factory-order-csv"),
    path("factory-orders/<int:order_id>/print/", views.factory_order_print, name="factory-order-print"),
]
