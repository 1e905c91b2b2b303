"""GET /api/campaigns/{id}/forecast/: pledged units per variant with an 80% interval (issue 14)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from c2m.forecast.access import access_campaign_forecast
from c2m.forecast.services import campaign_forecast_view


class VariantForecastOut(serializers.Serializer):
    variant = serializers.IntegerField()
    name = serializers.CharField()
    sku = serializers.CharField()
    expected = serializers.FloatField()
    low = serializers.IntegerField()
    high = serializers.IntegerField()
    actual = serializers.IntegerField(required=False)


class TotalForecastOut(serializers.Serializer):
    expected = serializers.FloatField()
    low = serializers.IntegerField()
    high = serializers.IntegerField()
    actual = serializers.IntegerField(required=False)


class ForecastOut(serializers.Serializer):
    variants = VariantForecastOut(many=True)
    total = TotalForecastOut()
    inputs = serializers.DictField()
    as_of = serializers.DateTimeField()
    snapshot = serializers.BooleanField()
    closed = serializers.BooleanField()


class CampaignForecastApi(APIView):
    """GET: the launch snapshot once launched (the live forecast before), with actuals after the close.
    The shop's staff only: a draft is 404 to anyone else, a launched campaign 403."""

    @extend_schema(responses=ForecastOut)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = access_campaign_forecast(request.user, campaign_id)
        return Response(campaign_forecast_view(campaign))
