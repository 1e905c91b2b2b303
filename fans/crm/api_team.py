"""CRM API: the shop's team, hand-over and the audit log."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from fans.chat.models import Fan
from fans.crm import services as crm
from fans.crm.api import SHOP_PARAM, member_for
from fans.crm.audit_labels import audit_action_label
from fans.crm.models import AuditLog
from shops import services as shop_services
from shops.access import access_shop_membership
from shops.models import ShopMember
from shops.roles import require_managing


class MemberOut(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    name = serializers.SerializerMethodField()
    assigned_fans = serializers.SerializerMethodField()

    class Meta:
        model = ShopMember
        fields = ["id", "user", "username", "name", "role", "is_active", "assigned_fans", "created_at"]

    def get_name(self, obj: ShopMember) -> str:
        return obj.user.get_full_name() or obj.user.get_username()

    def get_assigned_fans(self, obj: ShopMember) -> int:
        return self.context.get("assigned", {}).get(obj.user_id, 0)


class MemberIn(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=["manager", "assistant"])
    shop = serializers.IntegerField(required=False)


class RoleIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=["manager", "assistant"])


def team_response(member: ShopMember) -> Response:
    from django.db.models import Count

    members = ShopMember.objects.filter(shop=member.shop).select_related("user").order_by("pk")
    assigned = dict(
        Fan.objects.filter(shop=member.shop, assigned_to__isnull=False)
        .values_list("assigned_to")
        .annotate(n=Count("pk"))
        .values_list("assigned_to", "n")
    )
    return Response(MemberOut(members, many=True, context={"assigned": assigned}).data)


class TeamApi(APIView):
    @extend_schema(parameters=[SHOP_PARAM], responses=MemberOut(many=True))
    def get(self, request: Request) -> Response:
        return team_response(member_for(request))

    @extend_schema(request=MemberIn, responses={201: MemberOut})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        data = MemberIn(data=request.data)
        data.is_valid(raise_exception=True)
        new = shop_services.staff_add(
            member=member, username=data.validated_data["username"], role=data.validated_data["role"]
        )
        return Response(MemberOut(new).data, status=status.HTTP_201_CREATED)


def access_member(request: Request, member_id: int) -> tuple[ShopMember, ShopMember]:
    target = ShopMember.objects.select_related("user").filter(pk=member_id).first()
    if target is None:
        raise NotFound()
    return target, access_shop_membership(request.user, target.shop_id)


class TeamMemberApi(APIView):
    @extend_schema(request=RoleIn, responses=MemberOut)
    def patch(self, request: Request, member_id: int) -> Response:
        target, member = access_member(request, member_id)
        data = RoleIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            MemberOut(
                shop_services.staff_update(member=member, target=target, role=data.validated_data["role"])
            ).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request: Request, member_id: int) -> Response:
        target, member = access_member(request, member_id)
        shop_services.staff_remove(member=member, target=target)
        return Response(status=status.HTTP_204_NO_CONTENT)


class HandoverIn(serializers.Serializer):
    from_user = serializers.IntegerField()
    to_user = serializers.IntegerField(allow_null=True)
    shop = serializers.IntegerField(required=False)


class TeamHandoverApi(APIView):
    @extend_schema(
        request=HandoverIn, responses=inline_serializer("Handover", {"moved": serializers.IntegerField()})
    )
    def post(self, request: Request) -> Response:
        member = member_for(request)
        data = HandoverIn(data=request.data)
        data.is_valid(raise_exception=True)
        moved = crm.staff_handover(
            member=member,
            from_user_id=data.validated_data["from_user"],
            to_user_id=data.validated_data["to_user"],
        )
        return Response({"moved": moved})


class AuditOut(serializers.ModelSerializer):
    actor_name = serializers.SerializerMethodField()
    action_label = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = ["id", "actor", "actor_name", "action", "action_label", "count", "detail", "created_at"]

    def get_action_label(self, obj: AuditLog) -> str:
        return audit_action_label(obj.action)

    def get_actor_name(self, obj: AuditLog) -> str | None:
        return obj.actor.get_username() if obj.actor else None


class AuditLogApi(APIView):
    @extend_schema(
        parameters=[SHOP_PARAM, OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=AuditOut(many=True),
    )
    def get(self, request: Request) -> Response:
        member = member_for(request)
        require_managing(member)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(
            AuditLog.objects.filter(shop=member.shop).select_related("actor"), request, view=self
        )
        return paginator.get_paginated_response(AuditOut(page, many=True).data)
