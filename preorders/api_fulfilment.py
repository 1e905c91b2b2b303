"""Fulfilment API: parcels of a factory order (staff, owners and the factory's signed board), the fan's
receipt, after-sales requests and decisions, and 慢就赔 risk. One view per operation."""

from typing import Any

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid, NotFound
from core.inputs import StrictJSONParser
from preorders import fulfilment_selectors as selectors
from preorders.access import (
    access_after_sales_photo,
    access_board,
    access_campaign,
    access_factory_order_on_board,
    access_factory_order_to_ship,
    access_pledge,
    access_shipment_of_fan,
    access_shipment_on_board,
    access_shipment_to_manage,
)
from preorders.models import Shipment
from preorders.services import after_sales, fulfilment


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"{name} must be an id.", code=f"{name}_invalid") from None


def _data(request: Request) -> dict[str, Any]:
    data = request.data
    if hasattr(data, "getlist"):  # a form: pledges may come as several fields or one string
        pledges = data.getlist("pledges") or data.getlist("pledge_ids")
        out = {k: data.get(k) for k in data}
        out["pledges"] = pledges[0] if len(pledges) == 1 else pledges
        return out
    if not isinstance(data, dict):
        raise Invalid("The body must be an object.")
    return data


def _upload(request: Request) -> bytes:
    upload = request.FILES.get("file")
    if upload is None:
        raise Invalid('Attach the CSV as the multipart field "file".', code="file_required")
    if upload.size is not None and upload.size > fulfilment.IMPORT_MAX_BYTES:
        raise Invalid("The file is larger than 5 MB.", code="file_too_large")
    return upload.read(fulfilment.IMPORT_MAX_BYTES + 1)


def _shipment_answer(shipment: Shipment) -> dict[str, Any]:
    return selectors.shipment_to_dict(Shipment.objects.prefetch_related("items").get(pk=shipment.pk))


class ShipmentIn(serializers.Serializer):
    pledges = serializers.ListField(child=serializers.IntegerField())
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipped_at = serializers.DateTimeField(required=False)


class ShipmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    factory_order = serializers.IntegerField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipped_at = serializers.CharField()
    status = serializers.CharField()
    delivered_at = serializers.CharField(allow_null=True)
    confirmed_at = serializers.CharField(allow_null=True)
    confirmed_by = serializers.CharField(allow_null=True)
    pledges = serializers.ListField(child=serializers.IntegerField())


class ShipmentImportOut(serializers.Serializer):
    created = serializers.IntegerField()
    shipments = serializers.ListField(child=serializers.IntegerField())
    errors = serializers.ListField(child=serializers.DictField())


def _record(request: Request, order_id: int, shop_ids: set[int] | None, user: Any) -> Response:
    data = _data(request)
    shipment = fulfilment.shipment_record(
        order_id=order_id,
        pledges=data.get("pledges"),
        carrier=data.get("carrier"),
        tracking_number=data.get("tracking_number"),
        shipped_at=data.get("shipped_at"),
        recorded_by=user,
        shop_ids=shop_ids,
    )
    return Response(_shipment_answer(shipment), status=status.HTTP_201_CREATED)


class FactoryOrderShipmentsApi(APIView):
    """POST: record one fan's parcel (the platform's staff, or an owner for their own fans' pledges).
    GET: the order's lines to ship and its parcels, as far as the caller may see them."""

    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]

    @extend_schema(request=ShipmentIn, responses={201: ShipmentOut})
    def post(self, request: Request, order_id: int) -> Response:
        order, shop_ids = access_factory_order_to_ship(request.user, order_id)
        return _record(request, order.pk, shop_ids, request.user)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, order_id: int) -> Response:
        order, shop_ids = access_factory_order_to_ship(request.user, order_id)
        return Response(
            {
                "order": order.pk,
                "lines": selectors.order_lines_to_ship(order, shop_ids=shop_ids),
                "shipments": selectors.order_shipments(order, shop_ids=shop_ids),
            }
        )


class FactoryOrderShipmentsImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses=ShipmentImportOut,
    )
    def post(self, request: Request, order_id: int) -> Response:
        order, shop_ids = access_factory_order_to_ship(request.user, order_id)
        return Response(
            fulfilment.shipments_import(
                order_id=order.pk, raw=_upload(request), recorded_by=request.user, shop_ids=shop_ids
            )
        )


class ShipmentDeliverApi(APIView):
    @extend_schema(request=None, responses=ShipmentOut)
    def post(self, request: Request, shipment_id: int) -> Response:
        shipment = access_shipment_to_manage(request.user, shipment_id)
        return Response(_shipment_answer(fulfilment.shipment_deliver(shipment_id=shipment.pk)))


class ShipmentLostApi(APIView):
    @extend_schema(request=None, responses=ShipmentOut)
    def post(self, request: Request, shipment_id: int) -> Response:
        shipment = access_shipment_to_manage(request.user, shipment_id)
        return Response(_shipment_answer(fulfilment.shipment_lose(shipment_id=shipment.pk)))


class ShipmentConfirmApi(APIView):
    """The fan confirms receipt of their parcel: the order of its pledges is closed."""

    @extend_schema(request=None, responses=ShipmentOut)
    def post(self, request: Request, shipment_id: int) -> Response:
        shipment = access_shipment_of_fan(request.user, shipment_id)
        return Response(_shipment_answer(fulfilment.shipment_confirm(shipment_id=shipment.pk)))


# --- the factory's signed board ---------------------------------------------------------------------------


class BoardApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


class BoardOrdersApi(BoardApi):
    """The factory's orders with their per-fan lines (pledge, variant, quantity, recipient code)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, token: str) -> Response:
        factory = access_board(token)
        return Response(
            {"factory": {"id": factory.pk, "name": factory.name}, "orders": selectors.board_orders(factory)}
        )


class BoardShipmentsApi(BoardApi):
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]

    @extend_schema(request=ShipmentIn, responses={201: ShipmentOut})
    def post(self, request: Request, token: str, order_id: int) -> Response:
        order = access_factory_order_on_board(access_board(token), order_id)
        return _record(request, order.pk, None, None)


class BoardShipmentsImportApi(BoardApi):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses=ShipmentImportOut,
    )
    def post(self, request: Request, token: str, order_id: int) -> Response:
        order = access_factory_order_on_board(access_board(token), order_id)
        return Response(fulfilment.shipments_import(order_id=order.pk, raw=_upload(request)))


class BoardShipmentDeliverApi(BoardApi):
    @extend_schema(request=None, responses=ShipmentOut)
    def post(self, request: Request, token: str, shipment_id: int) -> Response:
        shipment = access_shipment_on_board(access_board(token), shipment_id)
        return Response(_shipment_answer(fulfilment.shipment_deliver(shipment_id=shipment.pk)))


class BoardShipmentLostApi(BoardApi):
    @extend_schema(request=None, responses=ShipmentOut)
    def post(self, request: Request, token: str, shipment_id: int) -> Response:
        shipment = access_shipment_on_board(access_board(token), shipment_id)
        return Response(_shipment_answer(fulfilment.shipment_lose(shipment_id=shipment.pk)))


# --- after-sales ------------------------------------------------------------------------------------------


class AfterSalesOut(serializers.Serializer):
    id = serializers.IntegerField()
    pledge = serializers.IntegerField()
    campaign = serializers.IntegerField()
    kind = serializers.CharField()
    reason = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.CharField()
    decision_reason = serializers.CharField()
    decided_at = serializers.CharField(allow_null=True)
    photo = serializers.CharField(allow_null=True)
    refunded = serializers.BooleanField()
    created_at = serializers.CharField()


class AfterSalesIn(serializers.Serializer):
    kind = serializers.CharField()
    reason = serializers.CharField()
    amount = serializers.CharField(required=False)
    photo = serializers.ImageField(required=False)


class PledgeAfterSalesApi(APIView):
    """POST: a fan asks for a refund or a return (multipart with an optional "photo", or JSON).
    GET: the fan's parcels and requests of their pledge."""

    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(request=AfterSalesIn, responses={201: AfterSalesOut})
    def post(self, request: Request, pledge_id: int) -> Response:
        data = request.data
        photo = request.FILES.get("photo")
        created = after_sales.after_sales_request(
            user=request.user,
            pledge_id=pledge_id,
            kind=data.get("kind"),
            reason=data.get("reason"),
            amount=data.get("amount"),
            photo=photo,
        )
        return Response(selectors.after_sales_to_dict(created), status=status.HTTP_201_CREATED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pledge_id: int) -> Response:
        return Response(selectors.pledge_fulfilment(access_pledge(request.user, pledge_id)))


class AfterSalesListApi(APIView):
    """The after-sales requests of the caller's shops (?campaign= for one campaign), open ones first."""

    @extend_schema(parameters=[OpenApiParameter("campaign", int)], responses=AfterSalesOut(many=True))
    def get(self, request: Request) -> Response:
        campaign_id = _int_param(request, "campaign")
        if campaign_id is not None:
            _campaign, is_staff = access_campaign(request.user, campaign_id)
            if not is_staff:
                raise NotFound()
        requests = selectors.after_sales_list(user=request.user, campaign_id=campaign_id)[:500]
        return Response([selectors.after_sales_to_dict(r) for r in requests])


class DecisionIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True)


class AfterSalesApproveApi(APIView):
    @extend_schema(request=DecisionIn, responses=AfterSalesOut)
    def post(self, request: Request, request_id: int) -> Response:
        decided = after_sales.after_sales_approve(
            user=request.user, request_id=request_id, reason=request.data.get("reason", "")
        )
        return Response(selectors.after_sales_to_dict(decided))


class AfterSalesDeclineApi(APIView):
    @extend_schema(request=DecisionIn, responses=AfterSalesOut)
    def post(self, request: Request, request_id: int) -> Response:
        decided = after_sales.after_sales_decline(
            user=request.user, request_id=request_id, reason=request.data.get("reason")
        )
        return Response(selectors.after_sales_to_dict(decided))


class AfterSalesPhotoApi(APIView):
    """A request's photo: for the fan who sent it and the shop's staff only."""

    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request: Request, request_id: int) -> FileResponse:
        found = access_after_sales_photo(request.user, request_id)
        if not found.photo:
            raise Http404
        response = FileResponse(found.photo.open("rb"))
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class CampaignLateRiskApi(APIView):
    """慢就赔 risk for the shop's staff: paid units not shipped yet and the time left to ship_by."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign, is_staff = access_campaign(request.user, campaign_id)
        if not is_staff:
            raise NotFound()
        return Response(selectors.late_risk(campaign))
