"""The factory's insight report: JSON, PDF and CSV behind the signed board link, and JSON for the
campaign's own team and the platform's staff. Aggregates only (c2m.insight.selectors)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from c2m.insight.access import access_campaign_insight, access_campaign_on_board
from c2m.insight.exports import insight_csv, insight_pdf
from c2m.insight.selectors import insight_report
from preorders.access import access_board

CAMPAIGN = OpenApiParameter("campaign", int, required=True)


class BoardInsightApi(APIView):
    """GET ?campaign=: the insight report of one campaign of the factory's products (no login: the link)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(parameters=[CAMPAIGN], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, token: str) -> Response:
        factory = access_board(token)
        campaign = access_campaign_on_board(factory, request.query_params.get("campaign"))
        return Response(insight_report(campaign=campaign))


class BoardInsightExportApi(APIView):
    """GET ?campaign=: the same report as a PDF (Noto Sans SC embedded) or a CSV."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    fmt = "csv"

    @extend_schema(parameters=[CAMPAIGN], responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, token: str) -> HttpResponse:
        factory = access_board(token)
        campaign = access_campaign_on_board(factory, request.query_params.get("campaign"))
        report = insight_report(campaign=campaign)
        name = f"insight-campaign-{campaign.pk}.{self.fmt}"
        if self.fmt == "pdf":
            response = HttpResponse(
                insight_pdf(report, factory_name=factory.name), content_type="application/pdf"
            )
        else:
            response = HttpResponse(insight_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response


class CampaignInsightApi(APIView):
    """GET: the insight report a factory gets, for the campaign's owner or managers and the platform's staff."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign = access_campaign_insight(request.user, campaign_id)
        return Response(insight_report(campaign=campaign))
