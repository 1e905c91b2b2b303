"""Factory orders and the factory's signed demand board: the platform's staff, a campaign's owner, and a
factory behind a signed link (never a fan's identity)."""

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Forbidden, NotFound
from preorders import selectors, services
from preorders.access import access_board, access_campaign_to_manage, is_admin
from preorders.api import _int_param
from preorders.board_links import board_link_token
from preorders.fulfilment_selectors import factory_order_sources, factory_orders_of_campaign
from preorders.models import Campaign, FactoryOrder
from preorders.statements import factory_statement, factory_statement_out
from shops.models import Factory


def board_token(factory: Factory) -> str | None:
    """The factory's current board link token (None while revoked); preorders.board_links rotates it."""
    return board_link_token(factory)


def board_factory(token: str, *, max_age: dt.timedelta | None = None) -> Factory | None:
    """The factory a signed board link is for; None for a forged, unknown or expired one (access_board says
    which, for the API)."""
    try:
        return access_board(token, max_age=max_age)
    except (NotFound, Forbidden):
        return None


class FactoryOrderLineOut(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    deposits = serializers.DecimalField(max_digits=12, decimal_places=2)
    value = serializers.DecimalField(max_digits=12, decimal_places=2)


class FactoryOrderOut(serializers.ModelSerializer):
    factory = serializers.IntegerField(source="factory_product.factory_id")
    factory_product = serializers.IntegerField(source="factory_product_id")
    product_name = serializers.CharField(source="factory_product.name")
    moq = serializers.IntegerField(source="factory_product.moq")
    cycle = serializers.IntegerField(source="cycle_id", allow_null=True)
    lines = FactoryOrderLineOut(many=True)
    totals = serializers.SerializerMethodField()

    class Meta:
        model = FactoryOrder
        fields = [
            "id",
            "factory",
            "factory_product",
            "product_name",
            "moq",
            "window_start",
            "cycle",
            "status",
            "currency",
            "lines",
            "totals",
            "created_at",
            "updated_at",
        ]

    def get_totals(self, obj: FactoryOrder) -> dict[str, Any]:
        return {k: str(v) for k, v in selectors.factory_order_totals(obj).items()}


class FactoryOrderWithSourcesOut(FactoryOrderOut):
    sources = serializers.SerializerMethodField()

    class Meta(FactoryOrderOut.Meta):
        fields = [*FactoryOrderOut.Meta.fields, "sources"]

    def get_sources(self, obj: FactoryOrder) -> list[dict[str, Any]]:
        return self.context["sources"].get(obj.pk, [])


class FactoryOrderListApi(APIView):
    """Every factory order, for the platform's staff; ?campaign= the orders a campaign feeds, for the staff
    or the campaign's owner. Each carries its sources: the campaigns feeding it and their paid units."""

    @extend_schema(
        parameters=[OpenApiParameter("campaign", int)], responses=FactoryOrderWithSourcesOut(many=True)
    )
    def get(self, request: Request) -> Response:
        campaign_id = _int_param(request, "campaign")
        shop_ids: set[int] | None = None
        if campaign_id is None:
            if not is_admin(request.user):
                raise Forbidden()
            orders = list(selectors.factory_order_list()[:200])
        else:
            if is_admin(request.user):
                campaign = Campaign.objects.filter(pk=campaign_id).first()
                if campaign is None:
                    raise NotFound()
            else:
                campaign = access_campaign_to_manage(request.user, campaign_id)
                shop_ids = {campaign.shop_id}
            orders = list(factory_orders_of_campaign(campaign).distinct()[:200])
        sources = factory_order_sources(orders, shop_ids=shop_ids)
        return Response(FactoryOrderWithSourcesOut(orders, many=True, context={"sources": sources}).data)


class StatusIn(serializers.Serializer):
    status = serializers.CharField()


class FactoryOrderTransitionApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=StatusIn, responses=FactoryOrderOut)
    def post(self, request: Request, order_id: int) -> Response:
        data = StatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        if not FactoryOrder.objects.filter(pk=order_id).exists():
            raise NotFound()
        services.factory_order_transition(
            order_id=order_id, status=data.validated_data["status"], actor=request.user
        )
        return Response(FactoryOrderOut(selectors.factory_order_list().get(pk=order_id)).data)


class DemandBoardApi(APIView):
    """Read-only live demand for one factory, behind a signed link (no login)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, token: str) -> Response:
        factory = access_board(token)
        # The factory's settlement statement: aggregates per campaign or cycle, never a fan.
        statement = factory_statement_out(factory_statement(factory))
        return Response({**selectors.factory_demand(factory=factory), "statement": statement})
