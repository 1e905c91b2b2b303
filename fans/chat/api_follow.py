"""POST /api/follows/: the caller follows a shop, through a share link's referral code when it has one."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from fans.chat.referrals import fan_follow_referred, fan_referral_code
from shops.models import Shop

# Where a follow came from, as Fan.joined_via records it.
FOLLOW_SOURCES = ["campaign", "shop", "invite"]


class FollowIn(serializers.Serializer):
    shop = serializers.IntegerField()
    ref = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    via = serializers.ChoiceField(choices=FOLLOW_SOURCES, default="campaign")


class FollowApi(APIView):
    @extend_schema(request=FollowIn, responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = FollowIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        shop = Shop.objects.filter(pk=v["shop"]).first()
        if shop is None:
            raise NotFound()
        fan, created = fan_follow_referred(user=request.user, shop=shop, ref=v["ref"], via=v["via"])
        return Response(
            {
                "fan": fan.pk,
                "shop": shop.pk,
                "created": created,
                "referral_code": fan_referral_code(fan),
                "referred": fan.referred_by_id is not None,
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
