"""GET /api/campaigns/{id}/: one campaign for its staff, its fans and logged-out visitors of a shared link.

Logged out, only a live campaign answers (drafts and ended ones are 404), and who joined is counts and
initials only, never a name.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from preorders import sharing
from preorders.access import access_campaign
from preorders.api import CampaignOut
from preorders.models import Campaign, CampaignStatus


class CampaignDetailOut(CampaignOut):
    """One campaign, with who joined as counts and initials only: logged-out visitors read it too."""

    pledger_count = serializers.SerializerMethodField()
    pledger_initials = serializers.SerializerMethodField()

    class Meta(CampaignOut.Meta):
        fields = [*CampaignOut.Meta.fields, "pledger_count", "pledger_initials"]

    def get_pledger_count(self, obj: Campaign) -> int:
        return self.context["pledgers"]["pledger_count"]

    def get_pledger_initials(self, obj: Campaign) -> list[str]:
        return self.context["pledgers"]["pledger_initials"]


class CampaignDetailApi(APIView):
    # A live campaign is a public page (posters, shared links); anyone logged out reads live ones only.
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses=CampaignDetailOut)
    def get(self, request: Request, campaign_id: int) -> Response:
        campaign, _staff = access_campaign(request.user, campaign_id)
        if not request.user.is_authenticated and campaign.status != CampaignStatus.LIVE:
            raise NotFound()
        context = {
            "request": request,
            "ref": sharing.sharer_code(request.user, campaign),
            "pledgers": sharing.pledgers(campaign),
        }
        return Response(CampaignDetailOut(campaign, context=context).data)
