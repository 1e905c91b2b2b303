"""What a fan's change or cancel would cost, asked before they confirm (read-only quotes)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from preorders.services.change_quote import pledge_cancel_quote, pledge_change_quote


class PledgeChangeQuoteApi(APIView):
    """GET ?quantity=&variant=: the deposit after the change and the difference to pay (or be refunded)."""

    @extend_schema(
        parameters=[OpenApiParameter("quantity", int), OpenApiParameter("variant", int)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, pledge_id: int) -> Response:
        return Response(
            pledge_change_quote(
                user=request.user,
                pledge_id=pledge_id,
                quantity=request.query_params.get("quantity"),
                variant_id=request.query_params.get("variant"),
            )
        )


class PledgeCancelQuoteApi(APIView):
    """GET: what cancelling now would refund, from the ledger."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pledge_id: int) -> Response:
        return Response(pledge_cancel_quote(user=request.user, pledge_id=pledge_id))
