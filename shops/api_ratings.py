"""红黑榜 API: POST /api/ratings/ (owner or manager; an upsert per shop) and GET /api/ratings/board/."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Forbidden
from shops import ratings
from shops.access import staff_shop_ids
from shops.rating_models import RatingScore


class RatingIn(serializers.Serializer):
    entity_type = serializers.ChoiceField(choices=["product", "brand", "factory", "origin"])
    entity_id = serializers.CharField()
    verdict = serializers.ChoiceField(choices=["red", "black"])
    reason = serializers.CharField()
    text = serializers.CharField(required=False, allow_blank=True)
    shop = serializers.IntegerField(required=False)


class RatingOut(serializers.Serializer):
    id = serializers.IntegerField()
    shop = serializers.IntegerField(source="shop_id")
    entity_type = serializers.CharField()
    entity_id = serializers.CharField()
    verdict = serializers.CharField()
    reason = serializers.CharField()
    text = serializers.CharField()
    weight = serializers.FloatField()
    created = serializers.BooleanField()
    score = serializers.FloatField()
    count = serializers.IntegerField()
    status = serializers.CharField()


class RatingListApi(APIView):
    @extend_schema(request=RatingIn, responses={200: RatingOut, 201: RatingOut})
    def post(self, request: Request) -> Response:
        """Mark an entity red or black for the caller's shop: 201 the first time, 200 when it changes it."""
        data = request.data if isinstance(request.data, dict) else {}
        rating, created = ratings.rate(user=request.user, data=data)
        score = RatingScore.objects.filter(entity_type=rating.entity_type, entity_id=rating.entity_id).first()
        body = {
            "id": rating.pk,
            "shop": rating.shop_id,
            "entity_type": rating.entity_type,
            "entity_id": rating.entity_id,
            "verdict": rating.verdict,
            "reason": rating.reason,
            "text": rating.text,
            "weight": round(rating.weight, 4),
            "created": created,
            "score": round(score.score, 4) if score else 0.0,
            "count": (score.red + score.black) if score else 0,
            "status": score.status if score else "",
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class BoardRowOut(serializers.Serializer):
    entity_id = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    side = serializers.CharField()
    status = serializers.CharField()
    score = serializers.FloatField()
    black_score = serializers.FloatField()
    count = serializers.IntegerField()
    red = serializers.IntegerField()
    black = serializers.IntegerField()
    reviews_avg = serializers.FloatField(allow_null=True)
    refund_rate = serializers.FloatField(allow_null=True)
    reasons = serializers.ListField(child=serializers.DictField())


class RatingBoardApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("entity_type", str), OpenApiParameter("category", str)],
        responses=BoardRowOut(many=True),
    )
    def get(self, request: Request) -> Response:
        """Top red then top black for shop staff; `red` and `black` count shops."""
        if not (request.user.is_authenticated and (request.user.is_staff or staff_shop_ids(request.user))):
            raise Forbidden()
        entity_type = request.query_params.get("entity_type") or "product"
        return Response(ratings.board(entity_type, request.query_params.get("category") or None))
