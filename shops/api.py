from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid
from shops import selectors
from shops.access import access_shop_membership
from shops.api_products import (
    ProductIn,
    ProductOut,
    ShopCreatedOut,
    ShopIn,
    product_create_response,
    shop_create_response,
)
from shops.models import Shop


class ShopOut(serializers.ModelSerializer):
    role = serializers.CharField()

    class Meta:
        model = Shop
        fields = ["id", "name", "slug", "description", "timezone", "role"]


class ShopListApi(APIView):
    """Shops the caller works for (role owner/manager/assistant) or follows (role fan)."""

    @extend_schema(responses=ShopOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(ShopOut(selectors.shop_list_for_user(user=request.user), many=True).data)

    @extend_schema(request=ShopIn, responses={201: ShopCreatedOut})
    def post(self, request: Request) -> Response:
        """A new shop (name, slug, timezone[, description, avatar]): the caller becomes its owner."""
        return shop_create_response(request)


class ProductListApi(APIView):
    """The catalogue of a shop the caller works for."""

    @extend_schema(
        parameters=[OpenApiParameter("shop", int), OpenApiParameter("category", str)],
        responses=ProductOut(many=True),
    )
    def get(self, request: Request) -> Response:
        try:
            shop_id = int(request.query_params["shop"]) if request.query_params.get("shop") else None
        except ValueError:
            raise Invalid("shop must be an id.") from None
        membership = access_shop_membership(request.user, shop_id)
        products = selectors.product_list(
            shop=membership.shop, category=request.query_params.get("category") or None
        )
        return Response(ProductOut(products, many=True).data)

    @extend_schema(request=ProductIn, responses={201: ProductOut})
    def post(self, request: Request) -> Response:
        """A product (name, price, variants[{name, sku}]) or one picked from the catalogue (factory_product)."""
        return product_create_response(request)
