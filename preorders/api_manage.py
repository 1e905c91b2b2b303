"""An owner's controls on a live group campaign: close now, extend once, cancel with refunds.

Each answers the campaign as GET /api/campaigns/{id}/ does, plus what the controls need to redraw.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from preorders.api import CampaignOut, ShopTimeField
from preorders.models import Campaign
from preorders.services import campaign_manage


class CampaignManageOut(CampaignOut):
    original_deadline = ShopTimeField(allow_null=True)
    closed_early_at = ShopTimeField(allow_null=True)
    extended_at = ShopTimeField(allow_null=True)

    class Meta(CampaignOut.Meta):
        model = Campaign
        fields = [
            *CampaignOut.Meta.fields,
            "original_deadline",
            "closed_early_at",
            "extended_at",
            "cancel_reason",
        ]


class ExtendIn(serializers.Serializer):
    deadline = serializers.CharField()


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=200)


class CampaignCloseApi(APIView):
    """Close now once the target is reached (409 target_not_reached otherwise); a retry answers the same."""

    @extend_schema(request=None, responses=CampaignManageOut)
    def post(self, request: Request, campaign_id: int) -> Response:
        campaign = campaign_manage.campaign_close_now(user=request.user, campaign_id=campaign_id)
        return Response(CampaignManageOut(campaign).data)


class CampaignExtendApi(APIView):
    """Move the deadline later, once, before it passes, by at most 14 days; pledgers are told."""

    @extend_schema(request=ExtendIn, responses=CampaignManageOut)
    def post(self, request: Request, campaign_id: int) -> Response:
        data = ExtendIn(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = campaign_manage.campaign_extend(
            user=request.user, campaign_id=campaign_id, deadline=data.validated_data["deadline"]
        )
        return Response(CampaignManageOut(campaign).data)


class CampaignCancelApi(APIView):
    """Cancel a live campaign: every deposit refunded, every pledger told; a retry answers the same."""

    @extend_schema(request=CancelIn, responses=CampaignManageOut)
    def post(self, request: Request, campaign_id: int) -> Response:
        data = CancelIn(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = campaign_manage.campaign_cancel(
            user=request.user, campaign_id=campaign_id, reason=data.validated_data.get("reason") or ""
        )
        return Response(CampaignManageOut(campaign).data)
