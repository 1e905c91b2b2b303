"""Lifecycle tags API: the shop's thresholds (GET any staff, PATCH owners and managers) and "recompute now"."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fans.crm.api import SHOP_PARAM, member_for
from fans.crm.lifecycle_settings import (
    lifecycle_recompute_request,
    lifecycle_settings_get,
    lifecycle_settings_to_dict,
    lifecycle_settings_update,
)


class LifecycleSettingsApi(APIView):
    """GET: thresholds, fans per lifecycle tag, when last computed and a running recompute's progress.
    PATCH {"new_days", "at_risk_after_days", "lapsed_after_days", "vip_percentile"} (any of them)."""

    @extend_schema(parameters=[SHOP_PARAM], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        member = member_for(request)
        return Response(lifecycle_settings_to_dict(lifecycle_settings_get(member.shop)))

    @extend_schema(parameters=[SHOP_PARAM], request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request) -> Response:
        member = member_for(request)
        row = lifecycle_settings_update(member=member, data=request.data)
        return Response(lifecycle_settings_to_dict(row))


class LifecycleRecomputeApi(APIView):
    """POST: recompute this shop's lifecycle tags now, in the worker (202; poll the settings for progress)."""

    @extend_schema(parameters=[SHOP_PARAM], request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        row = lifecycle_recompute_request(member=member)
        return Response(lifecycle_settings_to_dict(row), status=status.HTTP_202_ACCEPTED)
