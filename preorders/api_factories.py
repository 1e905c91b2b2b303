"""工厂优选: the factory directory, ranked by scorecard with its reasons. Shop staff (owners, managers,
assistants) and the platform's admins; admins also get each factory's signed demand-board token."""

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Forbidden, Invalid, NotFound
from preorders.access import is_admin
from preorders.api_factory import board_token
from preorders.board_links import board_link_rotate, board_token_max_age
from preorders.models import FactoryScorecard
from preorders.scorecards import ranked_factories, scorecard_reasons
from shops.access import staff_shop_ids
from shops.models import Category, Factory


class FactoryOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    category = serializers.CharField()
    origin = serializers.CharField()
    moq = serializers.IntegerField()
    lead_time_days = serializers.IntegerField()
    capacity_per_week = serializers.IntegerField()
    on_time_rate = serializers.FloatField(allow_null=True)
    refund_rate = serializers.FloatField(allow_null=True)
    rating_score = serializers.FloatField(allow_null=True)
    reviews_avg = serializers.FloatField(allow_null=True)
    fulfilled_orders = serializers.IntegerField()
    late_compensations = serializers.IntegerField()
    late_compensation_amount = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    board_token = serializers.CharField(required=False, allow_null=True)


def factory_row(factory: Factory, card: FactoryScorecard | None, *, admin: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": factory.pk,
        "name": factory.name,
        "category": factory.category,
        "origin": factory.origin,
        "moq": factory.moq,
        "lead_time_days": factory.lead_time_days,
        "capacity_per_week": factory.capacity_per_week,
        "on_time_rate": card.on_time_rate if card else None,
        "refund_rate": card.refund_rate if card else None,
        "rating_score": card.rating_score if card else None,
        "reviews_avg": card.reviews_avg if card else None,
        "fulfilled_orders": card.fulfilled_orders if card else 0,
        "late_compensations": card.late_compensations if card else 0,
        "late_compensation_amount": str(card.late_compensation_amount if card else "0.00"),
        "score": card.score if card else None,
        "reasons": scorecard_reasons(card),
    }
    if admin:
        row["board_token"] = board_token(factory)
    return row


class FactoryListApi(APIView):
    """GET ?category=: the factories of a category, best scorecard first, with the reasons."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("category", str)], responses=FactoryOut(many=True))
    def get(self, request: Request) -> Response:
        admin = is_admin(request.user)
        if not admin and not staff_shop_ids(request.user):
            raise Forbidden(_("Only shop staff and the platform's admins see the factory directory."))
        category = request.query_params.get("category") or None
        if category is not None and category not in Category.values:
            raise Invalid(_("There is no such category."), code="category_invalid")
        rows = [factory_row(f, card, admin=admin) for f, card in ranked_factories(category)]
        return Response(rows)


class BoardLinkOut(serializers.Serializer):
    board_token = serializers.CharField()
    board_url = serializers.CharField()
    expires_at = serializers.DateTimeField()


class FactoryBoardLinkApi(APIView):
    """POST: the platform issues the factory a new demand-board link; every older link stops working."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses=BoardLinkOut)
    def post(self, request: Request, factory_id: int) -> Response:
        factory = Factory.objects.filter(pk=factory_id).first()
        if factory is None:
            raise NotFound()
        token = board_link_rotate(factory=factory)
        return Response(
            {
                "board_token": token,
                "board_url": request.build_absolute_uri(reverse("factory-board", args=[token])),
                "expires_at": timezone.now() + board_token_max_age(),
            }
        )
