"""Reads for conversations and messages. Every list is scoped by the caller's access."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from fans.chat.hooks import triage_filters
from fans.chat.models import Conversation, Message, Side
from shops.access import staff_shop_ids


def sender_name(message: Message) -> str:
    if message.side == Side.FAN:
        return message.conversation.fan.display_name
    if message.side == Side.SHOP and message.sender is not None:
        return message.sender.get_full_name() or message.sender.get_username()
    if message.side == Side.BOT:
        return "Bot"
    return ""


def message_to_dict(message: Message) -> dict[str, Any]:
    """The MSG object of the chat protocol (docs/chat-protocol.md)."""
    data: dict[str, Any] = {
        "id": message.pk,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": message.sender_id,
        "sender_name": sender_name(message),
        "side": message.side,
        "kind": message.kind,
        "text": message.text,
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "client_id": str(message.client_id) if message.client_id else None,
    }
    if message.payload:
        data["card"] = message.payload
    if message.image:
        data["image"] = {
            "url": reverse("api-message-image", args=[message.pk]),
            "thumbnail_url": reverse("api-message-thumbnail", args=[message.pk]),
            "width": message.image_width,
            "height": message.image_height,
        }
    return data


# The inbox's triage filters (?filter=): each answered by a partial or leading index on the conversation.
TRIAGE_FILTERS = ("awaiting_reply", "mine", "unread")


def triage_filter_names() -> tuple[str, ...]:
    """The inbox's own filters, then those higher apps add (fans.chat.hooks.triage_filters)."""
    return TRIAGE_FILTERS + tuple(triage_filters.keys())


def triage_q(name: str, user: AbstractBaseUser) -> Q:
    """awaiting_reply: the fan wrote last and nobody answered; mine: assigned to the caller; unread: the
    shop has not read the fan's latest messages; then the hooks' filters (e.g. reach's due reminders)."""
    extra = triage_filters.get(name)
    if extra is not None:
        return extra.q(user)
    return {
        "awaiting_reply": Q(awaiting_reply=True),
        "mine": Q(assigned_to_id=user.pk),
        "unread": Q(shop_unread__gt=0),
    }[name]


def conversation_list(
    *,
    user: AbstractBaseUser,
    shop_id: int | None = None,
    q: str = "",
    assigned_to: str | int | None = None,
    triage: str | None = None,
    fans: Q | None = None,
) -> QuerySet[Conversation]:
    """Conversations the user may see, most recent activity first: for staff, the inbox order (the fan
    writing or a person answering; fans.chat.append); for a fan, any news. `fans` narrows to the
    conversations of some fans (a Q on the conversation, e.g. the crm's tag filter)."""
    shops = staff_shop_ids(user)
    scope = Q(fan__user=user)
    if shops:
        scope |= Q(shop_id__in=shops)
    qs = Conversation.objects.filter(scope).select_related("fan", "shop", "assigned_to")
    if shop_id is not None:
        qs = qs.filter(shop_id=shop_id)
    if q:
        text_match = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=q)
        qs = qs.filter(
            Q(fan__display_name__icontains=q) | Q(fan__user__username__icontains=q) | Exists(text_match)
        )
    if assigned_to not in (None, ""):
        if assigned_to in ("none", "unassigned"):
            qs = qs.filter(assigned_to__isnull=True)
        else:
            qs = qs.filter(assigned_to_id=int(assigned_to))
    if triage:
        qs = qs.filter(triage_q(triage, user))
    if fans is not None:
        qs = qs.filter(fans)
    if shops:
        return qs.order_by("-activity_at", "-pk")
    return qs.order_by("-last_message_at", "-pk")


def triage_counts(*, user: AbstractBaseUser, shop_id: int) -> dict[str, int]:
    """How many of a shop's conversations each triage filter holds (the inbox's chips); one query."""
    return Conversation.objects.filter(shop_id=shop_id).aggregate(
        **{name: Count("pk", filter=triage_q(name, user)) for name in triage_filter_names()}
    )


def message_list(*, conversation: Conversation, after_seq: int = 0, limit: int = 500) -> list[Message]:
    return list(
        Message.objects.filter(conversation=conversation, seq__gt=after_seq)
        .select_related("conversation__fan", "sender")
        .order_by("seq")[:limit]
    )


def message_list_before(*, conversation: Conversation, before_seq: int, limit: int = 50) -> list[Message]:
    """The `limit` messages just before `before_seq`, oldest first (for scrolling back)."""
    rows = list(
        Message.objects.filter(conversation=conversation, seq__lt=before_seq)
        .select_related("conversation__fan", "sender")
        .order_by("-seq")[:limit]
    )
    rows.reverse()
    return rows
