from django.urls import path

from shops import api, api_auth

urlpatterns = [
    path("shops/", api.ShopListApi.as_view(), name="api-shops"),
    path("products/", api.ProductListApi.as_view(), name="api-products"),
    path("auth/phone-code/", api_auth.PhoneCodeApi.as_view(), name="api-phone-code"),
    path("auth/phone-login/", api_auth.PhoneLoginApi.as_view(), name="api-phone-login"),
]
