"""Recommendation endpoints. One view per operation, small serializers."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid, NotFound
from core.replica import replica_reads
from fans.chat.access import access_fan_as_staff
from recommend import services
from recommend.serving import fans_for_product, picks_as_json, recommend_for_fan, serving_model
from recommend.serving.reasons import BLACK_LIST, RED_LIST
from shops.access import access_shop_membership
from shops.models import Product, ShopMember
from shops.ratings import product_statuses


def _k(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("k", default)
    try:
        k = int(raw)
    except (TypeError, ValueError):
        raise Invalid(_("k must be a whole number.")) from None
    if not 1 <= k <= maximum:
        raise Invalid(_("k must be between 1 and %(max)d.") % {"max": maximum})
    return k


def _product_as_staff(request: Request, product_id: int) -> tuple[Product, ShopMember]:
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound()
    return product, access_shop_membership(request.user, product.shop_id)


def _version() -> str | None:
    model = serving_model()
    return model.version if model else None


class CardClickIn(serializers.Serializer):
    message = serializers.IntegerField()


class CardClickApi(APIView):
    @extend_schema(
        request=CardClickIn,
        responses=inline_serializer(
            "CardClickOut", {"interaction": serializers.IntegerField(), "created": serializers.BooleanField()}
        ),
    )
    def post(self, request: Request) -> Response:
        data = CardClickIn(data=request.data)
        data.is_valid(raise_exception=True)
        interaction, created = services.card_click_record(
            user=request.user, message_id=data.validated_data["message"]
        )
        return Response(
            {"interaction": interaction.pk, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


PICK_FIELDS = (
    "RecommendationPick",
    {
        "product": serializers.DictField(help_text="id, name, price, currency, image, category"),
        "score": serializers.FloatField(),
        "reason": serializers.DictField(),
        "ranker": serializers.CharField(),
        "regime": serializers.CharField(),
    },
)


class FanRecommendationsApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("k", int)],
        responses=inline_serializer(
            "FanRecommendations",
            {
                "fan": serializers.IntegerField(),
                "version": serializers.CharField(allow_null=True),
                "picks": inline_serializer(*PICK_FIELDS, many=True),
            },
        ),
    )
    def get(self, request: Request, fan_id: int) -> Response:
        fan, _member = access_fan_as_staff(request.user, fan_id)
        with replica_reads():  # serving reads (core/replica.py)
            picks = recommend_for_fan(fan, _k(request, 5, 50))
        return Response({"fan": fan.pk, "version": _version(), "picks": picks_as_json(picks)})


class SendPickIn(serializers.Serializer):
    product = serializers.IntegerField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    client_id = serializers.UUIDField(required=False)


class FanRecommendationSendApi(APIView):
    @extend_schema(
        request=SendPickIn,
        responses=inline_serializer(
            "SentPick",
            {
                "message": serializers.IntegerField(),
                "conversation": serializers.IntegerField(),
                "seq": serializers.IntegerField(),
                "payload": serializers.DictField(),
            },
        ),
    )
    def post(self, request: Request, fan_id: int) -> Response:
        fan, _member = access_fan_as_staff(request.user, fan_id)
        data = SendPickIn(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = services.recommendation_send(
            user=request.user,
            fan=fan,
            product_id=data.validated_data["product"],
            reason=data.validated_data["reason"],
            client_id=data.validated_data.get("client_id"),
        )
        return Response(
            {
                "message": message.pk,
                "conversation": message.conversation_id,
                "seq": message.seq,
                "payload": message.payload,
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class LikelyFansApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("k", int)],
        responses=inline_serializer(
            "LikelyFans",
            {
                "product": serializers.IntegerField(),
                "version": serializers.CharField(allow_null=True),
                "fans": inline_serializer(
                    "LikelyFan",
                    {
                        "id": serializers.IntegerField(),
                        "display_name": serializers.CharField(),
                        "score": serializers.FloatField(),
                        "reason": serializers.DictField(),
                        "ranker": serializers.CharField(),
                    },
                    many=True,
                ),
            },
        ),
    )
    def get(self, request: Request, product_id: int) -> Response:
        product, _member = _product_as_staff(request, product_id)
        with replica_reads():
            picks = fans_for_product(product, _k(request, 50, 1000))
            listed = product_statuses([product.pk]).get(product.pk, "")
        extra = [RED_LIST.as_dict()] if listed == "red" else []
        return Response(
            {
                "product": product.pk,
                "version": _version(),
                "listed": listed,
                # 红黑榜: why a black product has no fans to invite.
                "reasons": [BLACK_LIST.as_dict()] if listed == "black" else extra,
                "fans": [
                    {
                        "id": p.fan.pk,
                        "display_name": p.fan.display_name,
                        "score": round(p.score, 4),
                        "reason": p.reason.as_dict(),
                        "reasons": [p.reason.as_dict(), *extra],
                        "ranker": p.ranker,
                    }
                    for p in picks
                ],
            }
        )


class SaveSegmentIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    k = serializers.IntegerField(min_value=1, max_value=1000, default=50)


class LikelyFansSaveSegmentApi(APIView):
    @extend_schema(request=SaveSegmentIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, product_id: int) -> Response:
        product, member = _product_as_staff(request, product_id)
        data = SaveSegmentIn(data=request.data)
        data.is_valid(raise_exception=True)
        segment, count = services.likely_fans_segment_save(
            member=member, product=product, name=data.validated_data["name"], k=data.validated_data["k"]
        )
        return Response(
            {"id": segment.pk, "name": segment.name, "filter": segment.filter, "count": count},
            status=status.HTTP_201_CREATED,
        )
