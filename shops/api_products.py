"""Owner self-service over the API: a new shop, the shop's products (own or picked from the catalogue)."""

import json
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid
from core.inputs import StrictJSONParser, strict_bool
from shops import products, services
from shops.access import access_product, access_shop_membership
from shops.models import Category, FactoryProduct, FactoryVariant, Product, Shop, Variant


class VariantOut(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = ["id", "name", "sku", "price", "is_available"]


class ProductOut(serializers.ModelSerializer):
    variants = VariantOut(many=True)
    image = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "id",
            "shop",
            "name",
            "category",
            "brand",
            "description",
            "price",
            "currency",
            "image",
            "is_available",
            "factory_product",
            "variants",
        ]

    def get_image(self, obj: Product) -> str:
        return obj.image.url if obj.image else ""


class VariantIn(serializers.Serializer):
    id = serializers.IntegerField(required=False, help_text="PATCH: an existing variant to keep or change")
    name = serializers.CharField()
    sku = serializers.CharField(required=False, allow_blank=True, help_text="empty: one is made")
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, help_text="default: the product's"
    )


class ProductIn(serializers.Serializer):
    """The schema of product writes; shops.products checks the rules (price > 0, unique SKUs, bounds)."""

    shop = serializers.IntegerField(
        required=False, help_text="needed only by someone on several shops' teams"
    )
    name = serializers.CharField(required=False)
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    variants = VariantIn(many=True, required=False, help_text="none: one default variant")
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    brand = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    image = serializers.ImageField(required=False, help_text="multipart only")
    factory_product = serializers.IntegerField(required=False, help_text="选品: pick this catalogue product")


class ShopIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, allow_blank=True)
    slug = serializers.CharField(max_length=200, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, default="Asia/Shanghai")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ShopCreatedOut(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    invite_link = serializers.SerializerMethodField()
    avatar = serializers.SerializerMethodField()

    class Meta:
        model = Shop
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "timezone",
            "role",
            "invite_code",
            "invite_link",
            "avatar",
        ]

    def get_role(self, obj: Shop) -> str:
        return "owner"

    def get_invite_link(self, obj: Shop) -> str:
        request = self.context.get("request")
        path = f"/join/{obj.invite_code}/"
        return request.build_absolute_uri(path) if request else path

    def get_avatar(self, obj: Shop) -> str:
        return obj.avatar.url if obj.avatar else ""


def shop_create_response(request: Request) -> Response:
    """POST /api/shops/ (ShopListApi.post): the caller becomes the new shop's owner."""
    ser = ShopIn(data=request.data)
    if not ser.is_valid():
        field = next(iter(ser.errors))
        raise Invalid(
            f"{field}: {ser.errors[field][0]}",
            code=f"{field}_invalid" if field != "name" else "name_required",
            detail=ser.errors,
        )
    shop = services.shop_create(user=request.user, avatar=request.FILES.get("avatar"), **ser.validated_data)
    return Response(ShopCreatedOut(shop, context={"request": request}).data, status=status.HTTP_201_CREATED)


class SlugCheckOut(serializers.Serializer):
    slug = serializers.CharField()
    available = serializers.BooleanField()


class SlugCheckApi(APIView):
    """Is this shop address free? (the live check on the new-shop form)"""

    @extend_schema(parameters=[OpenApiParameter("slug", str)], responses=SlugCheckOut)
    def get(self, request: Request) -> Response:
        services.shop_slug_check(request.query_params.get("slug", ""))
        return Response({"slug": request.query_params["slug"], "available": True})


def _variants_in(raw: Any) -> list[products.VariantIn]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw or "[]")
        except ValueError:
            raise Invalid("variants must be a list.", code="variant_invalid") from None
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
        raise Invalid("variants must be a list of {name, sku}.", code="variant_invalid")
    out = []
    for v in raw:
        try:
            vid = int(v["id"]) if v.get("id") not in (None, "") else None
        except (TypeError, ValueError):
            raise Invalid("A variant id must be a number.", code="variant_invalid") from None
        out.append(
            products.VariantIn(
                name=str(v.get("name") or ""), sku=str(v.get("sku") or ""), price=v.get("price"), id=vid
            )
        )
    return out


def _shop_id(request: Request) -> int | None:
    raw = request.query_params.get("shop") or request.data.get("shop")
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        raise Invalid("shop must be an id.") from None


def _product_out(product: Product) -> dict[str, Any]:
    return ProductOut(Product.objects.prefetch_related("variants").get(pk=product.pk)).data


def product_create_response(request: Request) -> Response:
    """POST /api/products/ (ProductListApi.post): an own product, or `factory_product` picked from the catalogue."""
    member = access_shop_membership(request.user, _shop_id(request))
    data = request.data
    if data.get("factory_product") not in (None, ""):
        product = products.product_pick(
            member=member,
            factory_product_id=data.get("factory_product"),
            price=data.get("price"),
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
        )
    else:
        product = products.product_create(
            member=member,
            name=str(data.get("name") or ""),
            price=data.get("price"),
            variants=_variants_in(data.get("variants")),
            category=data.get("category") or None,
            brand=str(data.get("brand") or ""),
            description=str(data.get("description") or ""),
            image=request.FILES.get("image"),
        )
    return Response(_product_out(product), status=status.HTTP_201_CREATED)


class ProductDetailApi(APIView):
    """One of the shop's products: read, change (fields and variants), take off sale."""

    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=ProductOut)
    def get(self, request: Request, product_id: int) -> Response:
        product, _member = access_product(request.user, product_id)
        return Response(_product_out(product))

    @extend_schema(request=ProductIn, responses=ProductOut)
    def patch(self, request: Request, product_id: int) -> Response:
        product, member = access_product(request.user, product_id)
        fields = {
            k: request.data.get(k)
            for k in ("name", "price", "category", "brand", "description", "is_available")
            if k in request.data
        }
        if "is_available" in fields:
            fields["is_available"] = strict_bool(fields["is_available"], "is_available")
        variants = _variants_in(request.data.get("variants")) if "variants" in request.data else None
        products.product_update(
            member=member, product=product, fields=fields, variants=variants, image=request.FILES.get("image")
        )
        return Response(_product_out(product))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, product_id: int) -> Response:
        product, member = access_product(request.user, product_id)
        products.product_retire(member=member, product=product)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductImageIn(serializers.Serializer):
    image = serializers.ImageField()


class ProductImageApi(APIView):
    """POST multipart `image`: the product's picture, checked and re-encoded by Pillow."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ProductImageIn}, responses=ProductOut)
    def post(self, request: Request, product_id: int) -> Response:
        product, member = access_product(request.user, product_id)
        image = request.FILES.get("image")
        if image is None:
            raise Invalid("Attach an image.", code="image_invalid")
        products.product_update(member=member, product=product, fields={}, image=image)
        return Response(_product_out(product))


class FactoryVariantOut(serializers.ModelSerializer):
    class Meta:
        model = FactoryVariant
        fields = ["id", "name", "sku", "moq"]


class CatalogueOut(serializers.ModelSerializer):
    factory = serializers.CharField(source="factory.name")
    variants = FactoryVariantOut(many=True)

    class Meta:
        model = FactoryProduct
        fields = [
            "id",
            "name",
            "factory",
            "category",
            "description",
            "moq",
            "lead_time_days",
            "currency",
            "retail_price_min",
            "retail_price_max",
            "variants",
        ]


class CatalogueApi(APIView):
    """The platform catalogue (选品): factory products shops may sell, with the retail price bounds."""

    @extend_schema(responses=CatalogueOut(many=True))
    def get(self, request: Request) -> Response:
        access_shop_membership(request.user, _shop_id(request))
        return Response(CatalogueOut(products.catalogue_list()[:500], many=True).data)
