from django.urls import path

from shops import api, api_auth, api_products, api_ratings, api_tokens

urlpatterns = [
    path("shops/", api.ShopListApi.as_view(), name="api-shops"),
    path("shops/slug-check/", api_products.SlugCheckApi.as_view(), name="api-shop-slug-check"),
    path("products/", api.ProductListApi.as_view(), name="api-products"),
    path("auth/token/rotate/", api_tokens.RotateTokenApi.as_view(), name="api-token-rotate"),
    path("auth/phone-code/", api_auth.PhoneCodeApi.as_view(), name="api-phone-code"),
    path("auth/phone-login/", api_auth.PhoneLoginApi.as_view(), name="api-phone-login"),
    path("products/<int:product_id>/", api_products.ProductDetailApi.as_view(), name="api-product"),
    path(
        "products/<int:product_id>/image/", api_products.ProductImageApi.as_view(), name="api-product-image"
    ),
    path("catalogue/", api_products.CatalogueApi.as_view(), name="api-catalogue"),
    path("ratings/", api_ratings.RatingListApi.as_view(), name="api-ratings"),
    path("ratings/board/", api_ratings.RatingBoardApi.as_view(), name="api-ratings-board"),
]
