"""REST twins of the chat protocol. One view per operation, small serializers."""

from typing import Any

from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.fields import ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid
from core.inputs import StrictJSONParser
from fans.chat import selectors, services
from fans.chat.access import access_conversation
from fans.chat.hooks import conversation_fan_filters, triage_filters
from fans.chat.models import Conversation, Message, MessageKind
from shops.access import access_shop_membership, staff_shop_ids


class ConversationOut(serializers.ModelSerializer):
    fan = serializers.IntegerField(source="fan_id")
    shop = serializers.IntegerField(source="shop_id")
    fan_name = serializers.CharField(source="fan.display_name")
    shop_name = serializers.CharField(source="shop.name")
    assigned_to = serializers.IntegerField(source="assigned_to_id", allow_null=True)
    assigned_to_name = serializers.SerializerMethodField()
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "shop",
            "shop_name",
            "fan",
            "fan_name",
            "assigned_to",
            "assigned_to_name",
            "last_seq",
            "last_message_at",
            "last_message_preview",
            "activity_at",
            "awaiting_reply",
            "unread",
            "shop_read_seq",
            "fan_read_seq",
            "bot_paused",
        ]

    def get_assigned_to_name(self, obj: Conversation) -> str | None:
        user = obj.assigned_to
        return (user.get_full_name() or user.get_username()) if user else None

    def get_unread(self, obj: Conversation) -> int:
        user = self.context["request"].user
        return obj.fan_unread if obj.fan.user_id == user.pk else obj.shop_unread


class ConversationListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("shop", int),
            OpenApiParameter("q", str),
            OpenApiParameter("assigned_to", str, description="staff user id, or 'none'"),
            # The hooks' filters are registered after import; the ones the project requires are known now.
            OpenApiParameter("filter", str, enum=[*selectors.TRIAGE_FILTERS, *triage_filters.required]),
            OpenApiParameter("tag", str, description="a tag id or group:tag, e.g. skin_type:oily"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=ConversationOut(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            shop_id = int(params["shop"]) if params.get("shop") else None
            assigned = params.get("assigned_to") or None
            if assigned not in (None, "none", "unassigned"):
                int(assigned)
        except ValueError:
            raise Invalid(_("shop and assigned_to must be ids.")) from None
        triage = params.get("filter") or None
        if triage is not None and triage not in selectors.triage_filter_names():
            raise Invalid(
                _("filter must be one of: %(names)s.")
                % {"names": ", ".join(selectors.triage_filter_names())},
                code="filter_invalid",
            )
        qs = selectors.conversation_list(
            user=request.user,
            shop_id=shop_id,
            q=params.get("q", "").strip(),
            assigned_to=assigned,
            triage=triage,
            fans=conversation_tag_filter(request.user, shop_id, params.get("tag")),
        )
        from rest_framework.pagination import LimitOffsetPagination

        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            ConversationOut(page, many=True, context={"request": request}).data
        )


def conversation_tag_filter(user: Any, shop_id: int | None, tag: str | None) -> Any:
    """The crm's tag filter (fans.chat.hooks), for the caller's shops (or the one asked for)."""
    if not tag:
        return None
    shops = staff_shop_ids(user)
    if shop_id is not None:
        shops = [s for s in shops if s == shop_id]
    return conversation_fan_filters.get("tag").q(list(shops), tag)


class ConversationCountsApi(APIView):
    """How many conversations each triage filter holds in a shop (the inbox's chips)."""

    @extend_schema(
        parameters=[OpenApiParameter("shop", int)],
        responses=inline_serializer(
            "TriageCounts", {name: serializers.IntegerField() for name in selectors.TRIAGE_FILTERS}
        ),
    )
    def get(self, request: Request) -> Response:
        try:
            shop_id = int(request.query_params["shop"]) if request.query_params.get("shop") else None
        except ValueError:
            raise Invalid(_("shop must be an id.")) from None
        member = access_shop_membership(request.user, shop_id)
        return Response(selectors.triage_counts(user=request.user, shop_id=member.shop_id))


class ConversationDetailApi(APIView):
    @extend_schema(responses=ConversationOut)
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation, _side = access_conversation(request.user, conversation_id)
        return Response(ConversationOut(conversation, context={"request": request}).data)


DRF_TEXT_VALIDATORS = (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)


class MessageText(serializers.CharField):
    """Text checked by the message core (fans.chat.append.text_check), so NUL characters and lone
    surrogates get the same coded refusal (invalid_text) over HTTP as on the websocket."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, DRF_TEXT_VALIDATORS)]


class MessageIn(serializers.Serializer):
    client_id = serializers.UUIDField()
    kind = serializers.ChoiceField(
        choices=[k for k in MessageKind.values if k != MessageKind.SYSTEM], default="text"
    )
    text = MessageText(required=False, allow_blank=True, trim_whitespace=False, default="")
    image = serializers.FileField(required=False)
    card = serializers.JSONField(required=False)


MESSAGE_SCHEMA = inline_serializer(
    "Message",
    {
        "id": serializers.IntegerField(),
        "conversation": serializers.IntegerField(),
        "seq": serializers.IntegerField(),
        "sender": serializers.IntegerField(allow_null=True),
        "sender_name": serializers.CharField(),
        "side": serializers.CharField(),
        "kind": serializers.CharField(),
        "text": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "client_id": serializers.UUIDField(allow_null=True),
    },
)


class MessageListApi(APIView):
    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after_seq", int, description="messages with seq greater than this, oldest first"
            ),
            OpenApiParameter(
                "before_seq", int, description="the page just before this seq, for scrolling back"
            ),
            OpenApiParameter("limit", int),
        ],
        responses=inline_serializer(
            "MessagePage",
            {
                "results": MESSAGE_SCHEMA.__class__(many=True),
                "has_more": serializers.BooleanField(),
                "last_seq": serializers.IntegerField(),
            },
        ),
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation, _side = access_conversation(request.user, conversation_id)
        try:
            after_seq = int(request.query_params.get("after_seq", 0))
            limit = min(max(int(request.query_params.get("limit", 500)), 1), 500)
            before = request.query_params.get("before_seq")
            before_seq = int(before) if before not in (None, "") else None
        except ValueError:
            raise Invalid("after_seq, before_seq and limit must be whole numbers.") from None
        if after_seq < 0:
            raise Invalid("after_seq must be ≥ 0.")
        if before_seq is not None:
            rows = selectors.message_list_before(
                conversation=conversation, before_seq=before_seq, limit=limit + 1
            )
            has_more = len(rows) > limit
            rows = rows[-limit:]
        else:
            rows = selectors.message_list(conversation=conversation, after_seq=after_seq, limit=limit + 1)
            has_more = len(rows) > limit
            rows = rows[:limit]
        return Response(
            {
                "results": [selectors.message_to_dict(m) for m in rows],
                "has_more": has_more,
                "last_seq": conversation.last_seq,
            }
        )

    @extend_schema(request=MessageIn, responses={201: MESSAGE_SCHEMA, 200: MESSAGE_SCHEMA})
    def post(self, request: Request, conversation_id: int) -> Response:
        data = MessageIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            message, created = services.message_send(
                user=request.user,
                conversation_id=conversation_id,
                client_id=v["client_id"],
                kind=v["kind"],
                text=v.get("text", ""),
                image=v.get("image"),
                payload=v.get("card"),
                defer_in_quiet=True,
            )
        except services.CardDeferred as deferred:
            # A card in the fan's quiet hours: scheduled for their end, shown in the conversation's list.
            return Response(deferred.to_dict(), status=status.HTTP_202_ACCEPTED)
        return Response(
            selectors.message_to_dict(message),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReadIn(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0)


class ConversationReadApi(APIView):
    @extend_schema(request=ReadIn, responses=ConversationOut)
    def post(self, request: Request, conversation_id: int) -> Response:
        data = ReadIn(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_read(
            user=request.user, conversation_id=conversation_id, seq=data.validated_data["seq"]
        )
        conversation.refresh_from_db()
        return Response(ConversationOut(conversation, context={"request": request}).data)


class AssignIn(serializers.Serializer):
    staff = serializers.IntegerField(allow_null=True)


class ConversationAssignApi(APIView):
    @extend_schema(request=AssignIn, responses=ConversationOut)
    def post(self, request: Request, conversation_id: int) -> Response:
        data = AssignIn(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_assign(
            actor=request.user, conversation_id=conversation_id, assignee_id=data.validated_data["staff"]
        )
        conversation.refresh_from_db()
        return Response(ConversationOut(conversation, context={"request": request}).data)


class MessageImageApi(APIView):
    """Chat images are private: served only to the two sides of the conversation."""

    thumbnail = False

    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request: Request, message_id: int) -> FileResponse:
        message = Message.objects.filter(pk=message_id).only("conversation_id", "image", "thumbnail").first()
        if message is None or not message.image:
            raise Http404
        access_conversation(request.user, message.conversation_id)
        field = message.thumbnail if self.thumbnail and message.thumbnail else message.image
        response = FileResponse(field.open("rb"))
        response["Cache-Control"] = "private, max-age=86400"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class MessageThumbnailApi(MessageImageApi):
    thumbnail = True
