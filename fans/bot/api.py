"""Bot API: tag suggestions, drafts, canned replies, FAQ rules, settings, handoff, broadcasts, promo opt-out."""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid, NotFound
from core.inputs import strict_bool
from core.limits import MESSAGE_MAX_LENGTH
from fans.bot import services as bot
from fans.bot.models import BotSettings, Broadcast, CannedReply, FaqRule, SuggestionStatus, TagSuggestion
from fans.chat.access import access_conversation, access_fan_as_staff
from fans.chat.models import Fan, Side
from fans.crm.api import member_for
from fans.crm.models import FanTag
from shops.access import access_shop_membership
from shops.roles import require_managing


class SuggestionOut(serializers.Serializer):
    id = serializers.IntegerField()
    tag = serializers.CharField()
    tag_name = serializers.CharField()
    confidence = serializers.FloatField()
    phrase = serializers.CharField()
    status = serializers.CharField()
    message = serializers.CharField()
    message_id = serializers.IntegerField(allow_null=True)
    message_seq = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


def suggestion_out(s: TagSuggestion) -> dict[str, Any]:
    data = bot.suggestion_to_dict(s)
    source = data.pop("message")
    return {**data, "message": source["text"], "message_id": source["id"], "message_seq": source["seq"]}


class TagSuggestionListApi(APIView):
    @extend_schema(responses=SuggestionOut(many=True))
    def get(self, request: Request, fan_id: int) -> Response:
        fan, _member = access_fan_as_staff(request.user, fan_id)
        pending = (
            TagSuggestion.objects.filter(fan=fan, status=SuggestionStatus.PENDING)
            # A tag the fan got since (from the owner, an import, a rule) needs no suggestion any more.
            .exclude(tag_id__in=FanTag.objects.filter(fan=fan).values("tag_id"))
            .select_related("tag__group", "message")
            .order_by("-confidence", "pk")
        )
        return Response([suggestion_out(s) for s in pending])


class TagSuggestionDecideApi(APIView):
    confirm = True

    @extend_schema(request=None, responses=SuggestionOut)
    def post(self, request: Request, fan_id: int, suggestion_id: int) -> Response:
        fan, member = access_fan_as_staff(request.user, fan_id)
        suggestion = TagSuggestion.objects.filter(pk=suggestion_id, fan=fan).first()
        if suggestion is None:
            raise NotFound()
        decided = bot.suggestion_decide(member=member, suggestion=suggestion, confirm=self.confirm)
        return Response(
            suggestion_out(TagSuggestion.objects.select_related("tag__group", "message").get(pk=decided.pk))
        )


class TagSuggestionRejectApi(TagSuggestionDecideApi):
    confirm = False


class DraftIn(serializers.Serializer):
    command = serializers.CharField(max_length=40)
    k = serializers.IntegerField(min_value=1, max_value=10, default=3)


class FanDraftApi(APIView):
    """/recommend and /campaign: cards drafted for the owner to review and send."""

    @extend_schema(
        request=DraftIn, responses=inline_serializer("Drafts", {"drafts": serializers.ListField()})
    )
    def post(self, request: Request, fan_id: int) -> Response:
        fan, member = access_fan_as_staff(request.user, fan_id)
        data = DraftIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            {
                "drafts": bot.bot_draft(
                    member=member, fan=fan, command=data.validated_data["command"], k=data.validated_data["k"]
                )
            }
        )


class CannedReplyOut(serializers.ModelSerializer):
    class Meta:
        model = CannedReply
        fields = ["id", "title", "text"]


class CannedReplyListApi(APIView):
    @extend_schema(responses=CannedReplyOut(many=True))
    def get(self, request: Request) -> Response:
        member = member_for(request)
        return Response(
            CannedReplyOut(CannedReply.objects.filter(shop=member.shop).order_by("title"), many=True).data
        )

    @extend_schema(request=CannedReplyOut, responses={201: CannedReplyOut})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        require_managing(member)
        data = CannedReplyOut(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            CannedReplyOut(CannedReply.objects.create(shop=member.shop, **data.validated_data)).data,
            status=status.HTTP_201_CREATED,
        )


class CannedRenderApi(APIView):
    """A canned reply with its variables filled in for one fan ({fan_name}, {shop_name}, {staff_name})."""

    @extend_schema(request=None, responses=inline_serializer("Rendered", {"text": serializers.CharField()}))
    def post(self, request: Request, fan_id: int, reply_id: int) -> Response:
        fan, member = access_fan_as_staff(request.user, fan_id)
        reply = CannedReply.objects.filter(pk=reply_id, shop=member.shop).first()
        if reply is None:
            raise NotFound()
        return Response({"text": bot.canned_render(reply.text, fan=fan, staff=request.user)})


class FaqOut(serializers.ModelSerializer):
    class Meta:
        model = FaqRule
        fields = ["id", "keywords", "answer", "is_active", "position"]


class FaqListApi(APIView):
    @extend_schema(responses=FaqOut(many=True))
    def get(self, request: Request) -> Response:
        member = member_for(request)
        return Response(FaqOut(FaqRule.objects.filter(shop=member.shop), many=True).data)

    @extend_schema(request=FaqOut, responses={201: FaqOut})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        require_managing(member)
        data = FaqOut(data=request.data)
        data.is_valid(raise_exception=True)
        rule = FaqRule.objects.create(shop=member.shop, **data.validated_data)
        bot.bot_facts_forget(member.shop_id)
        return Response(FaqOut(rule).data, status=status.HTTP_201_CREATED)


class BotSettingsOut(serializers.ModelSerializer):
    class Meta:
        model = BotSettings
        fields = [
            "enabled",
            "promo_per_day",
            "promo_per_week",
            "quiet_start",
            "quiet_end",
            "business_start",
            "business_end",
            "away_enabled",
            "away_message",
        ]


class BotSettingsApi(APIView):
    @extend_schema(responses=BotSettingsOut)
    def get(self, request: Request) -> Response:
        return Response(BotSettingsOut(bot.bot_settings_get(member_for(request).shop)).data)

    @extend_schema(request=BotSettingsOut, responses=BotSettingsOut)
    def patch(self, request: Request) -> Response:
        member = member_for(request)
        require_managing(member)
        settings_obj = bot.bot_settings_get(member.shop)
        data = BotSettingsOut(settings_obj, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        data.save()
        bot.bot_facts_forget(member.shop_id)
        return Response(data.data)


class BotResumeApi(APIView):
    @extend_schema(
        request=None, responses=inline_serializer("BotState", {"bot_paused": serializers.BooleanField()})
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation, side = access_conversation(request.user, conversation_id)
        if side != Side.SHOP:
            raise NotFound()
        member = access_shop_membership(request.user, conversation.shop_id)
        bot.conversation_bot_resume(member=member, conversation=conversation)
        return Response({"bot_paused": False})


class BroadcastIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["text", "product_card", "campaign_card"])
    text = serializers.CharField(required=False, allow_blank=True, max_length=MESSAGE_MAX_LENGTH, default="")
    product = serializers.IntegerField(required=False)
    campaign = serializers.IntegerField(required=False)
    promotional = serializers.BooleanField(default=True)
    fan_ids = serializers.JSONField(required=False)
    segment = serializers.IntegerField(required=False)
    filter = serializers.JSONField(required=False, help_text="a fan filter; {} means every fan of the shop")
    shop = serializers.IntegerField(required=False)
    send_at = serializers.CharField(
        required=False,
        help_text="schedule it: an ISO datetime up to 90 days ahead; without an offset it is the shop's local "
        "time. Leave out to send now.",
    )


class BroadcastEditIn(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=MESSAGE_MAX_LENGTH)
    product = serializers.IntegerField(required=False)
    campaign = serializers.IntegerField(required=False)
    send_at = serializers.CharField(required=False)


def send_at_parse(raw: str | None, shop: Any) -> dt.datetime | None:
    """An ISO datetime; one without an offset is read on the shop's wall clock (its time zone)."""
    if raw in (None, ""):
        return None
    try:
        value = parse_datetime(str(raw).strip())
    except ValueError:
        value = None
    if value is None:
        raise Invalid(_("send_at must be an ISO date and time."), code="send_at_invalid")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, ZoneInfo(shop.timezone))
    return value


BROADCAST_OUT = inline_serializer(
    "BroadcastStats",
    {
        "id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "cancel_requested": serializers.BooleanField(),
        "queued": serializers.IntegerField(),
        "sent": serializers.IntegerField(),
        "skipped_budget": serializers.IntegerField(),
        "skipped_opt_out": serializers.IntegerField(),
        "skipped_quiet": serializers.IntegerField(),
        "skipped_no_channel": serializers.IntegerField(),
        "skipped": serializers.IntegerField(),
        "skipped_reasons": serializers.DictField(child=serializers.IntegerField()),
        "deferred": serializers.IntegerField(),
        "deferred_until": serializers.DateTimeField(allow_null=True),
        "send_at": serializers.DateTimeField(allow_null=True),
        "read": serializers.IntegerField(),
        "progress": serializers.FloatField(),
    },
)


class BroadcastCreateApi(APIView):
    @extend_schema(request=BroadcastIn, responses={201: BROADCAST_OUT})
    def post(self, request: Request) -> Response:
        member = member_for(request)
        data = BroadcastIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        broadcast = bot.broadcast_create(
            member=member,
            kind=v["kind"],
            text=v.get("text", ""),
            product=v.get("product"),
            campaign=v.get("campaign"),
            promotional=v["promotional"],
            fan_ids=v.get("fan_ids"),
            segment=v.get("segment"),
            filter=v.get("filter"),
            send_at=send_at_parse(v.get("send_at"), member.shop),
        )
        broadcast.refresh_from_db()
        return Response(bot.broadcast_stats(broadcast), status=status.HTTP_201_CREATED)


class BroadcastDetailApi(APIView):
    @extend_schema(responses=BROADCAST_OUT)
    def get(self, request: Request, broadcast_id: int) -> Response:
        broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
        if broadcast is None:
            raise NotFound()
        access_shop_membership(request.user, broadcast.shop_id)
        return Response(bot.broadcast_stats(broadcast))

    @extend_schema(request=BroadcastEditIn, responses=BROADCAST_OUT)
    def patch(self, request: Request, broadcast_id: int) -> Response:
        """Edit a scheduled broadcast's message or time until it starts (400 broadcast_started after)."""
        broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
        if broadcast is None:
            raise NotFound()
        member = access_shop_membership(request.user, broadcast.shop_id)
        data = BroadcastEditIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        edited = bot.broadcast_update(
            member=member,
            broadcast=broadcast,
            text=v.get("text"),
            product=v.get("product"),
            campaign=v.get("campaign"),
            send_at=send_at_parse(v.get("send_at"), member.shop),
        )
        return Response(bot.broadcast_stats(edited))


class BroadcastCancelApi(APIView):
    @extend_schema(request=None, responses=BROADCAST_OUT)
    def post(self, request: Request, broadcast_id: int) -> Response:
        broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
        if broadcast is None:
            raise NotFound()
        member = access_shop_membership(request.user, broadcast.shop_id)
        return Response(bot.broadcast_stats(bot.broadcast_cancel(member=member, broadcast=broadcast)))


class PromotionsOptOutApi(APIView):
    """A fan turns a shop's promotions off (or back on); answers to their own questions still arrive."""

    @extend_schema(
        request=inline_serializer("OptOut", {"opt_out": serializers.BooleanField()}),
        responses=inline_serializer("OptOutState", {"opt_out": serializers.BooleanField()}),
    )
    def post(self, request: Request, shop_id: int) -> Response:
        # Strict: a form's opt_out=false is False, not the truthy string "false" (issue 17).
        opt_out = (
            strict_bool(request.data.get("opt_out", True), "opt_out")
            if isinstance(request.data, dict)
            else True
        )
        updated = Fan.objects.filter(shop_id=shop_id, user=request.user).update(promotions_opt_out=opt_out)
        if not updated:
            raise NotFound()
        return Response({"opt_out": opt_out})
