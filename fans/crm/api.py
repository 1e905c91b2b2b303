"""Fan CRM API: tag vocabulary, fan list and detail, tagging, segments, bulk jobs, imports, team, privacy."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid, NotFound
from core.inputs import strict_bool
from core.replica import replica_reads
from fans.chat.access import access_fan_as_staff
from fans.chat.models import Fan
from fans.crm import selectors
from fans.crm import services as crm
from fans.crm.filters import fan_count, fan_filter_clean, fan_page, ordering_clean
from fans.crm.hooks import fan_pledge_list
from fans.crm.models import FanTagEvent, Segment, TagGroup
from fans.crm.vocabulary import tag_groups_for_shop
from shops.access import access_shop_membership
from shops.models import Shop, ShopMember

SHOP_PARAM = OpenApiParameter("shop", int, description="shop id; defaults to your first shop")


FILTER_PARAMS = [
    SHOP_PARAM,
    OpenApiParameter(
        "tags_all", str, description="comma-separated tags, e.g. skin_type:oily,preference:value"
    ),
    OpenApiParameter("tags_any", str),
    OpenApiParameter("tags_none", str),
    OpenApiParameter("q", str),
    OpenApiParameter("assigned_to", str, description="staff user id or 'none'"),
    OpenApiParameter("joined_after", str),
    OpenApiParameter("joined_before", str),
    OpenApiParameter("last_message_after", str),
    OpenApiParameter("last_message_before", str),
    OpenApiParameter("min_spend", str),
    OpenApiParameter("max_spend", str),
    OpenApiParameter("min_pledges", int),
    OpenApiParameter("max_pledges", int),
    OpenApiParameter(
        "ordering",
        str,
        description="joined_at, display_name, last_message_at, total_spend, pledge_count; prefix - for descending",
    ),
    OpenApiParameter("limit", int),
    OpenApiParameter("offset", int),
]


def member_for(request: Request) -> ShopMember:
    raw = request.query_params.get("shop") or (
        request.data.get("shop") if isinstance(request.data, dict) else None
    )
    try:
        shop_id = int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        raise Invalid("shop must be an id.") from None
    return access_shop_membership(request.user, shop_id)


class TagOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()


class TagGroupOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    choice = serializers.CharField()
    scope = serializers.CharField()
    platform = serializers.SerializerMethodField()
    tags = TagOut(many=True, source="tags.all")

    def get_platform(self, obj: TagGroup) -> bool:
        return obj.shop_id is None


class TagIn(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    name_zh = serializers.CharField(max_length=64)
    name_en = serializers.CharField(max_length=64)


class TagGroupIn(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    name_zh = serializers.CharField(max_length=64)
    name_en = serializers.CharField(max_length=64)
    choice = serializers.ChoiceField(choices=["single", "multi"])
    scope = serializers.CharField(max_length=32, default="all")
    tags = TagIn(many=True, min_length=1)


class TagGroupListApi(APIView):
    @extend_schema(parameters=[SHOP_PARAM], responses=TagGroupOut(many=True))
    def get(self, request: Request) -> Response:
        shop = None
        if request.query_params.get("shop"):
            shop = member_for(request).shop
        else:
            memberships = (
                ShopMember.objects.filter(user=request.user, is_active=True)
                .select_related("shop")
                .order_by("shop_id")
            )
            shop = memberships[0].shop if memberships else None
        return Response(TagGroupOut(tag_groups_for_shop(shop), many=True).data)

    @extend_schema(request=TagGroupIn, responses={201: TagGroupOut})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        data = TagGroupIn(data=request.data)
        data.is_valid(raise_exception=True)
        group = crm.tag_group_create(member=member, **data.validated_data)
        return Response(TagGroupOut(group).data, status=status.HTTP_201_CREATED)


class FanOut(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()
    username = serializers.CharField(source="user.username")
    assigned_to = serializers.IntegerField(source="assigned_to_id", allow_null=True)
    assigned_to_name = serializers.SerializerMethodField()
    conversation = serializers.SerializerMethodField()
    last_message_at = serializers.SerializerMethodField()

    class Meta:
        model = Fan
        fields = [
            "id",
            "shop",
            "display_name",
            "username",
            "tags",
            "joined_at",
            "assigned_to",
            "assigned_to_name",
            "total_spend",
            "pledge_count",
            "conversation",
            "last_message_at",
        ]

    def get_tags(self, obj: Fan) -> list[str]:
        return self.context["tags"].get(obj.pk, [])

    def get_assigned_to_name(self, obj: Fan) -> str | None:
        return obj.assigned_to.get_username() if obj.assigned_to_id else None

    def _conversation(self, obj: Fan):
        try:
            return obj.conversation
        except Fan.conversation.RelatedObjectDoesNotExist:
            return None

    def get_conversation(self, obj: Fan) -> int | None:
        conv = self._conversation(obj)
        return conv.pk if conv else None

    def get_last_message_at(self, obj: Fan) -> str | None:
        conv = self._conversation(obj)
        return conv.last_message_at.isoformat() if conv and conv.last_message_at else None


class FanPagination(LimitOffsetPagination):
    """Counts the matching fans and pages their ids with the cheapest plan for each (fans.filters), then loads
    only the rows shown."""

    def paginate_fans(
        self, request: Request, *, shop: Shop, flt: dict[str, Any], ordering: tuple[str, ...]
    ) -> list[Fan]:
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count, ids = fan_page(shop, flt, ordering, offset=self.offset, limit=self.limit)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        rows = {f.pk: f for f in selectors.fan_list(shop=shop, flt={}, ordering=ordering).filter(pk__in=ids)}
        return [rows[pk] for pk in ids if pk in rows]


def fans_page(request: Request, *, shop: Shop, flt: dict[str, Any], ordering: tuple[str, ...]) -> Response:
    paginator = FanPagination()
    page = paginator.paginate_fans(request, shop=shop, flt=flt, ordering=ordering)
    tags = selectors.fan_tag_strings([f.pk for f in page])
    return paginator.get_paginated_response(FanOut(page, many=True, context={"tags": tags}).data)


class FanListApi(APIView):
    @extend_schema(parameters=FILTER_PARAMS, responses=FanOut(many=True))
    def get(self, request: Request) -> Response:
        member = member_for(request)
        flt = fan_filter_clean(member.shop, request.query_params.dict())
        ordering = ordering_clean(request.query_params.get("ordering"))
        with replica_reads():  # the heavy read: filtered, counted, paginated (core/replica.py)
            return fans_page(request, shop=member.shop, flt=flt, ordering=ordering)


class FanDetailOut(FanOut):
    notes = serializers.CharField()
    tag_details = serializers.SerializerMethodField()
    tag_history = serializers.SerializerMethodField()
    invited_count = serializers.SerializerMethodField()
    invited_by = serializers.SerializerMethodField()
    pledges = serializers.SerializerMethodField()

    class Meta(FanOut.Meta):
        fields = FanOut.Meta.fields + [
            "notes",
            "tag_details",
            "tag_history",
            "invited_count",
            "invited_by",
            "pledges",
        ]

    def get_invited_count(self, obj: Fan) -> int:
        """People this fan brought in through their share links (one level: not their invitees' invitees)."""
        return obj.referred_fans.count()

    def get_invited_by(self, obj: Fan) -> dict[str, Any] | None:
        by = obj.referred_by
        return {"id": by.pk, "display_name": by.display_name} if by is not None else None

    def get_pledges(self, obj: Fan) -> list[dict[str, Any]]:
        return fan_pledge_list(obj)

    def get_tag_details(self, obj: Fan) -> list[dict[str, Any]]:
        return selectors.fan_tag_details(obj)

    def get_tag_history(self, obj: Fan) -> list[dict[str, Any]]:
        events = (
            FanTagEvent.objects.filter(fan=obj)
            .select_related("tag__group", "actor")
            .order_by("-created_at", "-pk")[:50]
        )
        return [
            {
                "tag": f"{e.tag.group.code}:{e.tag.code}",
                "action": e.action,
                "source": e.source,
                "actor": e.actor.get_username() if e.actor else None,
                "created_at": e.created_at,
            }
            for e in events
        ]


def fan_detail_response(fan: Fan) -> Response:
    fan = Fan.objects.select_related("user", "assigned_to", "conversation", "referred_by").get(pk=fan.pk)
    return Response(FanDetailOut(fan, context={"tags": selectors.fan_tag_strings([fan.pk])}).data)


class FanNotesIn(serializers.Serializer):
    notes = serializers.CharField(allow_blank=True, max_length=5000, trim_whitespace=False)


class FanDetailApi(APIView):
    @extend_schema(responses=FanDetailOut)
    def get(self, request: Request, fan_id: int) -> Response:
        fan, _member = access_fan_as_staff(request.user, fan_id)
        return fan_detail_response(fan)

    @extend_schema(request=FanNotesIn, responses=FanDetailOut)
    def patch(self, request: Request, fan_id: int) -> Response:
        fan, member = access_fan_as_staff(request.user, fan_id)
        data = FanNotesIn(data=request.data)
        data.is_valid(raise_exception=True)
        crm.fan_notes_update(member=member, fan=fan, notes=data.validated_data["notes"])
        return fan_detail_response(fan)


class FanTagsIn(serializers.Serializer):
    add = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    remove = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class FanTagsApi(APIView):
    @extend_schema(request=FanTagsIn, responses=FanDetailOut)
    def post(self, request: Request, fan_id: int) -> Response:
        fan, member = access_fan_as_staff(request.user, fan_id)
        data = FanTagsIn(data=request.data)
        data.is_valid(raise_exception=True)
        crm.fan_tags_update(
            member=member, fan=fan, add=data.validated_data["add"], remove=data.validated_data["remove"]
        )
        return fan_detail_response(fan)


class SegmentOut(serializers.ModelSerializer):
    count = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "shop", "name", "filter", "count", "created_by", "created_at"]

    def get_count(self, obj: Segment) -> int:
        return fan_count(obj.shop, obj.filter)


class SegmentIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    filter = serializers.JSONField(default=dict)
    shop = serializers.IntegerField(required=False)


class SegmentListApi(APIView):
    @extend_schema(parameters=[SHOP_PARAM], responses=SegmentOut(many=True))
    def get(self, request: Request) -> Response:
        member = member_for(request)
        with replica_reads():  # one fan count per segment
            segments = Segment.objects.filter(shop=member.shop).select_related("shop").order_by("name")
            return Response(SegmentOut(segments, many=True).data)

    @extend_schema(request=SegmentIn, responses={201: SegmentOut})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        data = SegmentIn(data=request.data)
        data.is_valid(raise_exception=True)
        segment = crm.segment_create(
            member=member, name=data.validated_data["name"], filter=data.validated_data["filter"]
        )
        return Response(SegmentOut(segment).data, status=status.HTTP_201_CREATED)


def access_segment(request: Request, segment_id: int) -> tuple[Segment, ShopMember]:
    segment = Segment.objects.select_related("shop").filter(pk=segment_id).first()
    if segment is None:
        raise NotFound()
    return segment, access_shop_membership(request.user, segment.shop_id)


class SegmentDetailApi(APIView):
    @extend_schema(responses=SegmentOut)
    def get(self, request: Request, segment_id: int) -> Response:
        segment, _member = access_segment(request, segment_id)
        with replica_reads():
            return Response(SegmentOut(segment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, segment_id: int) -> Response:
        segment, member = access_segment(request, segment_id)
        crm.segment_delete(member=member, segment=segment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentFansApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("ordering", str),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=FanOut(many=True),
    )
    def get(self, request: Request, segment_id: int) -> Response:
        segment, _member = access_segment(request, segment_id)
        ordering = ordering_clean(request.query_params.get("ordering"))
        with replica_reads():
            return fans_page(request, shop=segment.shop, flt=segment.filter, ordering=ordering)


class MyTagsApi(APIView):
    """Every tag each shop you follow holds on you."""

    @extend_schema(
        responses=inline_serializer(
            "MyShopTags",
            {
                "shop": serializers.IntegerField(),
                "shop_name": serializers.CharField(),
                "tags": serializers.ListField(),
            },
            many=True,
        )
    )
    def get(self, request: Request) -> Response:
        fans = Fan.objects.filter(user=request.user).select_related("shop").order_by("shop_id")
        return Response(
            [
                {
                    "shop": f.shop_id,
                    "shop_name": f.shop.name,
                    "tags": [
                        {k: d[k] for k in ("tag", "group_name", "name", "source", "created_at")}
                        for d in selectors.fan_tag_details(f)
                    ],
                }
                for f in fans
            ]
        )


class MyPersonalisationApi(APIView):
    """A fan's personalisation switch for one shop: {"opt_out": true} stops personalised recommendations."""

    @extend_schema(
        request=inline_serializer("PersonalisationOptOut", {"opt_out": serializers.BooleanField()}),
        responses=inline_serializer("PersonalisationState", {"opt_out": serializers.BooleanField()}),
    )
    def post(self, request: Request, shop_id: int) -> Response:
        value = request.data.get("opt_out") if isinstance(request.data, dict) else None
        if value is None:
            raise Invalid(_("Say opt_out: true or false."), code="invalid_opt_out")
        value = strict_bool(value, "opt_out")
        return Response(
            {"opt_out": crm.fan_personalisation_set(user=request.user, shop_id=shop_id, opt_out=value)}
        )


class MyTagsEraseApi(APIView):
    @extend_schema(
        request=None, responses=inline_serializer("Erased", {"removed": serializers.IntegerField()})
    )
    def post(self, request: Request, shop_id: int) -> Response:
        return Response({"removed": crm.fan_tags_erase(user=request.user, shop_id=shop_id)})
