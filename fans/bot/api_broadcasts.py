"""Broadcast API around a send: the audience count before it, the skipped fans after it, "send later"."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid, NotFound
from fans.bot import services as bot
from fans.bot.models import Broadcast, DeliveryStatus, PromoDelivery
from fans.bot.services.broadcast_followup import RETRYABLE
from fans.crm.api import member_for
from shops.access import access_shop_membership
from shops.models import ShopMember


def _broadcast_for(request: Request, broadcast_id: int) -> tuple[Broadcast, ShopMember]:
    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is None:
        raise NotFound()
    return broadcast, access_shop_membership(request.user, broadcast.shop_id)


class BroadcastPreviewApi(APIView):
    """ "将发送给 N 人": how many fans the chosen audience holds (all fans, or a segment)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("shop", int),
            OpenApiParameter("segment", int, description="a segment id; leave out for every fan"),
        ],
        responses=inline_serializer("BroadcastPreview", {"count": serializers.IntegerField()}),
    )
    def get(self, request: Request) -> Response:
        member = member_for(request)
        raw = request.query_params.get("segment") or None
        try:
            segment = int(raw) if raw is not None else None
        except ValueError:
            raise Invalid(_("segment must be an id."), code="invalid") from None
        count = bot.broadcast_audience_count(member=member, segment=segment, filter={})
        return Response({"count": count})


class SkippedOut(serializers.Serializer):
    fan = serializers.IntegerField(source="fan_id")
    fan_name = serializers.CharField(source="fan.display_name")
    reason = serializers.CharField(source="status")
    reason_label = serializers.SerializerMethodField()
    retryable = serializers.SerializerMethodField()

    def get_reason_label(self, obj: PromoDelivery) -> str:
        return str(DeliveryStatus(obj.status).label)

    def get_retryable(self, obj: PromoDelivery) -> bool:
        return obj.status in RETRYABLE


def send_later_out(broadcast: Broadcast) -> dict[str, Any] | None:
    later = Broadcast.objects.filter(retry_of=broadcast).first()
    if later is None:
        return None
    return {
        "id": later.pk,
        "scheduled_at": later.scheduled_at,
        "status": later.status,
        "queued": later.queued,
    }


class BroadcastSkippedApi(APIView):
    """The fans a broadcast skipped, by name and reason (the attention budget's ledger)."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=SkippedOut(many=True),
    )
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast, _member = _broadcast_for(request, broadcast_id)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(bot.broadcast_skipped(broadcast), request, view=self)
        response = paginator.get_paginated_response(SkippedOut(page, many=True).data)
        response.data["send_later"] = send_later_out(broadcast)
        return response


class SendLaterIn(serializers.Serializer):
    at = serializers.DateTimeField()


class BroadcastSendLaterApi(APIView):
    """Send the same message later to the fans skipped for budget or quiet hours (a scheduled broadcast)."""

    @extend_schema(
        request=SendLaterIn,
        responses={
            201: inline_serializer(
                "SendLater",
                {
                    "id": serializers.IntegerField(),
                    "scheduled_at": serializers.DateTimeField(),
                    "queued": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast, member = _broadcast_for(request, broadcast_id)
        data = SendLaterIn(data=request.data)
        data.is_valid(raise_exception=True)
        later = bot.broadcast_send_later(member=member, broadcast=broadcast, at=data.validated_data["at"])
        return Response(bot.broadcast_stats(later), status=status.HTTP_201_CREATED)
