from django.urls import path

from shops import api

urlpatterns = [
    path("shops/", api.ShopListApi.as_view(), name="api-shops"),
    path("products/", api.ProductListApi.as_view(), name="api-products"),
]
