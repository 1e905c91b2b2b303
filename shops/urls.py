from django.conf import settings
from django.urls import path, re_path
from django.views.static import serve

from shops import views, views_ratings

urlpatterns = [
    path("signup/owner/", views.owner_signup, name="signup-owner"),
    path("shop/new/", views.shop_new, name="shop-new"),
    path("products/", views.product_list_page, name="products"),
    path("products/new/", views.product_new, name="product-new"),
    path("products/<int:product_id>/edit/", views.product_edit, name="product-edit"),
    path("products/<int:product_id>/retire/", views.product_retire_page, name="product-retire"),
    path("ratings/", views_ratings.ratings_page, name="ratings"),
]
if settings.DEBUG:
    # Shop avatars are public like product pictures (config/urls.py serves those).
    urlpatterns += [re_path(r"^media/(?P<path>avatars/.+)$", serve, {"document_root": settings.MEDIA_ROOT})]
