"""Settlement and MOQ-decision API for the shop's owner and managers. One view per operation."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from preorders.access import access_campaign_to_manage
from preorders.api import CampaignOut
from preorders.services.factory_orders import campaign_moq_decide
from preorders.statements import campaign_statement, statement_out


class SettlementOut(serializers.Serializer):
    campaign = serializers.IntegerField()
    collected = serializers.CharField()
    refunded = serializers.CharField()
    forfeited = serializers.CharField()
    compensated = serializers.CharField()
    price_credits = serializers.CharField()
    held = serializers.CharField()
    payable_to_factory = serializers.CharField()
    payable_to_shop = serializers.CharField()
    platform_fee = serializers.CharField()
    balanced = serializers.BooleanField()
    currency = serializers.CharField()


class CampaignSettlementApi(APIView):
    """GET: the campaign's settlement statement from the ledger (owner and managers; assistants 403,
    anyone else 404)."""

    @extend_schema(responses=SettlementOut)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = access_campaign_to_manage(request.user, campaign_id)
        body = statement_out(campaign_statement(campaign), campaign.currency)
        return Response({"campaign": campaign.pk, **body})


class MoqDecisionIn(serializers.Serializer):
    decision = serializers.CharField(max_length=16)


class CampaignMoqDecisionApi(APIView):
    """POST {"decision": "ship_anyway" | "cancel"}: the owner's answer to a MOQ shortfall after lapses."""

    @extend_schema(request=MoqDecisionIn, responses=CampaignOut)
    def post(self, request: Request, campaign_id: int) -> Response:
        data = MoqDecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = campaign_moq_decide(
            user=request.user, campaign_id=campaign_id, decision=data.validated_data["decision"]
        )
        return Response(CampaignOut(campaign).data)
