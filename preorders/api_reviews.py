"""Reviews API: a fan reviews a delivered item, the shop replies publicly, anyone reads a product's or a
campaign's reviews (never the fan's name unless they opted in). One view per operation."""

import json
from typing import Any

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid
from core.inputs import StrictJSONParser, strict_bool
from preorders.access import access_campaign
from preorders.models import ReviewPhoto
from preorders.services import reviews


class ReviewIn(serializers.Serializer):
    pledge = serializers.IntegerField()
    stars = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(required=False, allow_blank=True)
    photos = serializers.ListField(child=serializers.ImageField(), required=False, max_length=3)
    suits = serializers.DictField(child=serializers.BooleanField(), required=False)
    show_name = serializers.BooleanField(required=False)


def _flag(value: Any) -> bool:
    return strict_bool(value, "show_name")


def _suits(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except ValueError:
            raise Invalid(_("Answer each question with yes or no."), code="suits_invalid") from None
    return value


class ReviewsApi(APIView):
    """POST (fan; JSON, or multipart with up to 3 "photos"): review a delivered item once.
    GET ?product= or ?campaign= (public): the reviews, their star distribution and average."""

    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    def get_permissions(self) -> list[Any]:
        if self.request.method == "GET":
            return [AllowAny()]
        return super().get_permissions()

    @extend_schema(request=ReviewIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = request.data
        photos = request.FILES.getlist("photos")
        if not photos and data.get("photos"):
            # Photos come as multipart files; anything else (URLs, base64 in JSON) is refused, not dropped.
            raise Invalid(_("Send photos as image files (multipart)."), code="photos_invalid")
        created = reviews.review_create(
            user=request.user,
            pledge_id=data.get("pledge"),
            stars=data.get("stars"),
            text=data.get("text", ""),
            photos=photos,
            suits=_suits(data.get("suits")),
            show_name=_flag(data.get("show_name", False)),
        )
        return Response(reviews.review_to_dict(created), status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("product", int), OpenApiParameter("campaign", int)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        ids = {}
        for name in ("product", "campaign"):
            raw = request.query_params.get(name)
            if raw:
                try:
                    ids[name] = int(raw)
                except ValueError:
                    raise Invalid(_("That is not a valid id."), code=f"{name}_invalid") from None
        if not ids:
            raise Invalid(_("Say which product or campaign."), code="product_or_campaign_required")
        if "campaign" in ids:
            access_campaign(request.user, ids["campaign"])  # drafts are not public
        return Response(reviews.review_list(product_id=ids.get("product"), campaign_id=ids.get("campaign")))


class ReplyIn(serializers.Serializer):
    text = serializers.CharField()


class ReviewReplyApi(APIView):
    """The shop's public reply (owner or manager): POST once, PATCH to edit it."""

    @extend_schema(request=ReplyIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, review_id: int) -> Response:
        done = reviews.review_reply(user=request.user, review_id=review_id, text=request.data.get("text"))
        return Response(reviews.review_to_dict(done))

    @extend_schema(request=ReplyIn, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request, review_id: int) -> Response:
        done = reviews.review_reply(
            user=request.user, review_id=review_id, text=request.data.get("text"), edit=True
        )
        return Response(reviews.review_to_dict(done))


class ReviewPhotoApi(APIView):
    """A review photo: reviews are public, so is this (hidden reviews' photos are not)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request: Request, photo_id: int) -> FileResponse:
        photo = ReviewPhoto.objects.filter(pk=photo_id, review__hidden=False).first()
        if photo is None or not photo.image:
            raise Http404
        response = FileResponse(photo.image.open("rb"))
        response["Cache-Control"] = "public, max-age=86400"
        response["X-Content-Type-Options"] = "nosniff"
        return response
