"""Reach API: push subscriptions and the lock-screen preference, follow-up reminders, the digest setting.
One view per operation; the services validate and raise coded errors (bad input changes nothing)."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Invalid
from reach import selectors
from reach.models import PushPreference
from reach.services import digests, reminders, scheduled, subscriptions
from shops.access import access_shop_membership
from shops.roles import require_managing


def _object(data: Any, name: str = "body") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(_("The %(name)s must be a JSON object.") % {"name": name}, code="invalid_body")
    return data


def _flag(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise Invalid(_("%(name)s must be true or false.") % {"name": name}, code=f"{name}_invalid")


SubscriptionIn = inline_serializer(
    "PushSubscriptionIn",
    {
        "endpoint": serializers.URLField(),
        "keys": inline_serializer(
            "PushKeys", {"p256dh": serializers.CharField(), "auth": serializers.CharField()}
        ),
    },
)


class PushSubscriptionsApi(APIView):
    """GET: my devices. POST {"endpoint", "keys": {"p256dh", "auth"}}: this device gets pushes (201)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        rows = selectors.push_subscription_list(user=request.user)
        return Response({"results": [selectors.subscription_to_dict(s) for s in rows]})

    @extend_schema(request=SubscriptionIn, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = _object(request.data)
        keys = data.get("keys")
        if not isinstance(keys, dict):
            raise Invalid(_("keys must be an object with p256dh and auth."), code="push_keys_invalid")
        subscription, _created = subscriptions.push_subscription_create(
            user=request.user,
            endpoint=data.get("endpoint"),
            p256dh=keys.get("p256dh"),
            auth=keys.get("auth"),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(selectors.subscription_to_dict(subscription), status=status.HTTP_201_CREATED)


class PushSubscriptionApi(APIView):
    """DELETE: one of my devices stops getting pushes (404 for anyone else's)."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, subscription_id: int) -> Response:
        subscriptions.push_subscription_delete(user=request.user, subscription_id=subscription_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PushPreferenceApi(APIView):
    """GET / PATCH {"previews": bool}: whether my pushes show the message text on the lock screen."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        preference = PushPreference.objects.filter(user_id=request.user.pk).first()
        return Response({"previews": bool(preference and preference.previews)})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request) -> Response:
        data = _object(request.data)
        if "previews" not in data:
            raise Invalid(_("previews is required."), code="previews_invalid")
        preference = subscriptions.push_preference_set(
            user=request.user, previews=_flag(data["previews"], "previews")
        )
        return Response({"previews": preference.previews})


class ConversationRemindersApi(APIView):
    """GET: my open reminders on this conversation. POST {"at", "cancel_on_reply"?, "note"?}: remind me (201).
    Shop staff only; a time in the past is 400 reminder_in_past."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, conversation_id: int) -> Response:
        rows = selectors.reminder_list(user=request.user, conversation_id=conversation_id)
        return Response({"results": [selectors.reminder_to_dict(r) for r in rows]})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _object(request.data)
        reminder = reminders.reminder_create(
            user=request.user,
            conversation_id=conversation_id,
            at=data.get("at"),
            cancel_on_reply=_flag(data.get("cancel_on_reply"), "cancel_on_reply"),
            note=data.get("note") or "",
        )
        return Response(selectors.reminder_to_dict(reminder), status=status.HTTP_201_CREATED)


class RemindersApi(APIView):
    """GET: all my open reminders (pending and due), soonest first."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        rows = selectors.reminder_list(user=request.user)[:200]
        return Response({"results": [selectors.reminder_to_dict(r) for r in rows]})


class ReminderCancelApi(APIView):
    """POST: cancel my pending reminder, or mark a due one done (404 for anyone else's)."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, reminder_id: int) -> Response:
        reminder = reminders.reminder_close(user=request.user, reminder_id=reminder_id)
        return Response(selectors.reminder_to_dict(reminder))


class DigestSettingsApi(APIView):
    """GET / PATCH {"unanswered_after_minutes", "enabled"?}: the shop's staff digest (managers only)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, shop_id: int) -> Response:
        member = access_shop_membership(request.user, shop_id)
        row = digests.digest_settings_get(member.shop)
        return Response({"unanswered_after_minutes": row.unanswered_after_minutes, "enabled": row.enabled})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request, shop_id: int) -> Response:
        member = access_shop_membership(request.user, shop_id)
        require_managing(member)
        data = _object(request.data)
        current = digests.digest_settings_get(member.shop)
        row = digests.digest_settings_set(
            shop=member.shop,
            unanswered_after_minutes=data.get("unanswered_after_minutes", current.unanswered_after_minutes),
            enabled=_flag(data.get("enabled", current.enabled), "enabled"),
        )
        return Response({"unanswered_after_minutes": row.unanswered_after_minutes, "enabled": row.enabled})


class ConversationScheduledMessagesApi(APIView):
    """GET: this conversation's scheduled messages (mine and my teammates'). POST {"text", "send_at"}: send it
    then (201); send_at is ISO, the shop's wall time without an offset, 30 s to 90 days ahead. Shop staff only."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, conversation_id: int) -> Response:
        rows = selectors.scheduled_message_list(user=request.user, conversation_id=conversation_id)
        return Response({"results": [scheduled.scheduled_message_to_dict(r) for r in rows]})

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _object(request.data)
        row = scheduled.scheduled_message_create(
            user=request.user,
            conversation_id=conversation_id,
            text=data.get("text"),
            send_at=data.get("send_at"),
        )
        return Response(scheduled.scheduled_message_to_dict(row), status=status.HTTP_201_CREATED)


class ScheduledMessageApi(APIView):
    """PATCH {"text"?, "send_at"?}: the author edits a message until it is sent (400 scheduled_message_done)."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def patch(self, request: Request, scheduled_id: int) -> Response:
        data = _object(request.data)
        row = scheduled.scheduled_message_update(
            user=request.user, scheduled_id=scheduled_id, text=data.get("text"), send_at=data.get("send_at")
        )
        return Response(scheduled.scheduled_message_to_dict(row))


class ScheduledMessageCancelApi(APIView):
    """POST: the author cancels a message that has not been sent."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, scheduled_id: int) -> Response:
        row = scheduled.scheduled_message_cancel(user=request.user, scheduled_id=scheduled_id)
        return Response(scheduled.scheduled_message_to_dict(row))
