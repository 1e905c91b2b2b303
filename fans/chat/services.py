"""Every write for fans and conversations. Services own their transactions and announce after commit."""

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import DomainError, Forbidden, Invalid, NotFound, RateLimited
from core.events import announce, shop_group, user_group
from core.inputs import strict_id
from core.limits import message_max_length
from fans.chat.access import access_conversation
from fans.chat.append import (
    CARD_KINDS,
    NewMessage,
    conversation_from_row,
    conversations_lock,
    messages_append,
    text_check,
)
from fans.chat.cards import card_build
from fans.chat.hooks import CardGate, card_deferrals, card_gates
from fans.chat.images import image_process
from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
from fans.chat.ratelimit import message_rate_check, message_rate_refund
from shops.models import Shop, ShopMember
from shops.roles import require_assign

FAN_KINDS = {MessageKind.TEXT, MessageKind.IMAGE}
STAFF_KINDS = {MessageKind.TEXT, MessageKind.IMAGE, MessageKind.PRODUCT_CARD, MessageKind.CAMPAIGN_CARD}


def conversation_groups(conversation: Conversation) -> list[str]:
    return [user_group(conversation.fan.user_id), shop_group(conversation.shop_id)]


def fan_follow(*, user: AbstractBaseUser, shop: Shop, display_name: str = "", via: str = "invite") -> Fan:
    """The user follows the shop (idempotent) and gets their private conversation with it."""
    name = (display_name or user.get_full_name() or user.get_username()).strip()[:100]
    with transaction.atomic():
        fan, created = Fan.objects.get_or_create(
            shop=shop, user=user, defaults={"display_name": name, "joined_via": via}
        )
        Conversation.objects.get_or_create(shop=shop, fan=fan)
    return fan


def _parse_client_id(client_id: Any) -> uuid.UUID:
    if client_id in (None, ""):
        raise Invalid(_("client_id is required."))
    try:
        return uuid.UUID(str(client_id))
    except (ValueError, TypeError, AttributeError):
        raise Invalid(_("client_id must be a UUID.")) from None


def message_send(
    *,
    user: AbstractBaseUser,
    conversation_id: int,
    client_id: Any,
    kind: str = MessageKind.TEXT,
    text: str = "",
    image: UploadedFile | None = None,
    payload: dict[str, Any] | None = None,
    defer_in_quiet: bool = False,
) -> tuple[Message, bool]:
    """Store a message from a person and announce it. Returns (message, created).

    Resending a client_id returns the first message and stores nothing new. With `defer_in_quiet`, a card
    refused only because it is the fan's quiet hours is handed to the card deferral (reach schedules it for
    their end) and CardDeferred is raised with what to answer; without it (beats, the demo) it is refused.
    """
    if kind not in MessageKind.values or kind == MessageKind.SYSTEM:
        raise Invalid(_("Unknown message kind."))
    cid = _parse_client_id(client_id)
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise Invalid(_("text must be a string."))

    text = text.strip()
    processed = None
    if kind == MessageKind.TEXT:
        text_check(text)
    elif kind == MessageKind.IMAGE:
        if image is None:
            raise Invalid(_("An image message needs an image file."))
        text_check(text, allow_empty=True)
        processed = image_process(image)

    conversation_pk = _as_int(conversation_id)
    if conversation_pk is None:
        raise NotFound()
    if kind in CARD_KINDS:
        # A resent card is answered before the attention budget is asked again.
        existing = resend_first(user, cid, conversation_pk)
        if existing is not None:
            return existing, False
    try:
        message_rate_check(user.pk)
    except RateLimited:
        # An idempotent resend stores nothing, so it is answered even past the limit (issue 17).
        existing = resend_first(user, cid, conversation_pk)
        if existing is None:
            raise
        return existing, False
    message, created = _message_store(
        user=user,
        conversation_pk=conversation_pk,
        cid=cid,
        kind=kind,
        text=text,
        processed=processed,
        payload=payload,
        defer_in_quiet=defer_in_quiet,
    )
    if not created:  # a resend after all (raced in, or stored before): it spends no budget
        message_rate_refund([user.pk])
    return message, created


def resend_first(user: AbstractBaseUser, cid: uuid.UUID, conversation_pk: int) -> Message | None:
    """The message a resent client_id stored first, or None; Invalid if it went to another conversation."""
    existing = (
        Message.objects.select_related("conversation__fan", "sender")
        .filter(sender=user, client_id=cid)
        .first()
    )
    if existing is not None and existing.conversation_id != conversation_pk:
        raise Invalid(_("client_id was already used in another conversation."))
    return existing


def _message_store(
    *,
    user: AbstractBaseUser,
    conversation_pk: int,
    cid: uuid.UUID,
    kind: str,
    text: str,
    processed: Any = None,
    payload: dict[str, Any] | None = None,
    defer_in_quiet: bool = False,
) -> tuple[Message, bool]:
    """The transaction of message_send, after its checks and its rate limit."""
    try:
        with transaction.atomic(durable=True):
            conversation, side = _conversation_lock(conversation_pk, user_id=user.pk)
            allowed = FAN_KINDS if side == Side.FAN else STAFF_KINDS
            if kind not in allowed:
                raise Forbidden(_("You cannot send this kind of message here."))
            card: dict[str, Any] = {}
            if kind in CARD_KINDS:
                card = card_build(kind, conversation.shop, payload)
                refusal = _card_gate().check(conversation=conversation, source=kind)
                if refusal is not None:
                    raise _GateRefused(refusal, conversation.fan.pk, conversation)
            (message,) = messages_append(
                [
                    NewMessage(
                        conversation=conversation,
                        sender=user,
                        side=side,
                        kind=kind,
                        text=text,
                        payload=card,
                        client_id=cid,
                        processed=processed,
                    )
                ]
            )
    except _GateRefused as refused:
        until = getattr(refused.refusal, "defer_until", None)
        deferral = card_deferrals.get("scheduled") if defer_in_quiet and until else None
        if deferral is not None:
            # Quiet hours only: not sent now and not skipped, but scheduled for their end (issue 16).
            message_rate_refund([user.pk])
            scheduled = deferral.defer(
                user=user,
                conversation=refused.conversation,
                kind=kind,
                text=text,
                payload=payload,
                client_id=cid,
                at=until,
            )
            raise CardDeferred(until, scheduled) from None
        # Recorded outside the rolled-back transaction: refused means not sent, and logged as skipped.
        _card_gate().refused(fan_id=refused.fan_id, source=kind, refusal=refused.refusal)
        raise refused.refusal from None
    except IntegrityError:
        # The client_id was stored before (a resend, possibly concurrent): answer with the first message.
        existing = (
            Message.objects.select_related("conversation__fan", "sender")
            .filter(sender=user, client_id=cid)
            .first()
        )
        if existing is None:
            raise
        if existing.conversation_id != conversation_pk:
            raise Invalid(_("client_id was already used in another conversation.")) from None
        return existing, False
    return message, True


class _GateRefused(Exception):
    """The card gate's refusal, carried out of the transaction it rolls back."""

    def __init__(self, refusal: DomainError, fan_id: int, conversation: Conversation) -> None:
        self.refusal, self.fan_id, self.conversation = refusal, fan_id, conversation


class CardDeferred(Exception):
    """Not an error: the card waits for the end of the fan's quiet hours. The API answers 202 with
    `deferred_until` and the scheduled message; the socket sends a message.deferred frame."""

    def __init__(self, until: Any, scheduled: dict[str, Any]) -> None:
        super().__init__("deferred")
        self.until, self.scheduled = until, scheduled

    def to_dict(self) -> dict[str, Any]:
        return {"status": "deferred", "deferred_until": self.until, "scheduled_message": self.scheduled}


def _card_gate() -> CardGate:
    gate = card_gates.get("attention_budget")
    if gate is None:  # core.checks fails start-up first; this guards a test that cleared the registry
        raise Invalid(_("Cards of this kind are not available yet."))
    return gate


def _as_int(value: Any) -> int | None:
    """An id, never a boolean (`"conversation": true` is not conversation 1)."""
    return strict_id(value)


# The send path is the hottest code in Fansi, so it speaks plain SQL: the ORM's query compilation
# cost more CPU than the database work (bench/chat.py). Three statements: lock, insert, update.


def _conversation_lock(conversation_id: int, *, user_id: int | None) -> tuple[Conversation, str]:
    """Lock the conversation row and decide the sender's side in one statement.

    With a user_id this is the same rule as fans.access.access_conversation: the fan of the
    conversation, or an active staff member of its shop; anyone else gets NotFound.
    """
    conv, fan, member = Conversation._meta.db_table, Fan._meta.db_table, ShopMember._meta.db_table
    connection = transaction.get_connection()
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
    sql = (
        f"SELECT c.last_seq, c.shop_id, c.fan_id, f.user_id, f.display_name, c.bot_paused, "
        f"EXISTS (SELECT 1 FROM {member} m WHERE m.shop_id = c.shop_id AND m.user_id = %s AND m.is_active) "
        f"FROM {conv} c INNER JOIN {fan} f ON f.id = c.fan_id WHERE c.id = %s{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id if user_id is not None else -1, conversation_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound()
    fan_user_id, is_staff = row[3], row[6]
    if user_id is None:
        side = Side.SYSTEM
    elif fan_user_id == user_id:
        side = Side.FAN
    elif is_staff:
        side = Side.SHOP
    else:
        raise NotFound()
    return conversation_from_row(conversation_id, row[:6]), side


def system_message_post(
    *,
    conversation: Conversation,
    text: str,
    kind: str = MessageKind.SYSTEM,
    payload: dict[str, Any] | None = None,
    side: str = Side.SYSTEM,
    answers: bool | None = None,
) -> Message:
    """A notice or card from the platform or the bot; joins the caller's transaction. `answers`: whether
    it answers the fan (NewMessage.answers; by default, the bot's messages do)."""
    with transaction.atomic():
        locked = conversations_lock([conversation.pk])[conversation.pk]
        (message,) = messages_append(
            [
                NewMessage(
                    conversation=locked,
                    side=side,
                    kind=kind,
                    text=text[: message_max_length()],
                    payload=payload or {},
                    answers=answers,
                )
            ]
        )
        return message


def conversation_read(*, user: AbstractBaseUser, conversation_id: int, seq: Any) -> Conversation:
    """Move the user's side's read pointer up to `seq` and send a read receipt."""
    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise Invalid(_("seq must be a whole number.")) from None
    if seq < 0:
        raise Invalid(_("seq must be a whole number."))
    with transaction.atomic():
        conversation, side = access_conversation(user, conversation_id, lock=True)
        seq = min(seq, conversation.last_seq)
        read_field, unread_field = (
            ("fan_read_seq", "fan_unread") if side == Side.FAN else ("shop_read_seq", "shop_unread")
        )
        if seq <= getattr(conversation, read_field):
            return conversation
        from_others = conversation.messages.filter(seq__gt=seq)
        from_others = (
            from_others.exclude(side=Side.FAN) if side == Side.FAN else from_others.filter(side=Side.FAN)
        )
        unread = from_others.count()
        Conversation.objects.filter(pk=conversation.pk).update(**{read_field: seq, unread_field: unread})
        setattr(conversation, read_field, seq)
        setattr(conversation, unread_field, unread)
        announce(
            conversation_groups(conversation),
            {"type": "read", "conversation": conversation.pk, "side": side, "seq": seq, "user": user.pk},
        )
    return conversation


def conversation_assign(
    *, actor: AbstractBaseUser, conversation_id: int, assignee_id: int | None
) -> Conversation:
    """Assign a conversation (and its fan) to a staff member; assistants may only take it themselves."""
    with transaction.atomic():
        conversation, side = access_conversation(actor, conversation_id, lock=True)
        if side != Side.SHOP:
            raise NotFound()
        member = ShopMember.objects.get(shop_id=conversation.shop_id, user=actor, is_active=True)
        assignee = None
        if assignee_id is not None:
            assignee_member = (
                ShopMember.objects.select_related("user")
                .filter(shop_id=conversation.shop_id, user_id=_as_int(assignee_id), is_active=True)
                .first()
            )
            if assignee_member is None:
                raise Invalid(_("The assignee is not on this shop's team."))
            assignee = assignee_member.user
        require_assign(member, assignee.pk if assignee else None)
        Conversation.objects.filter(pk=conversation.pk).update(assigned_to=assignee)
        Fan.objects.filter(pk=conversation.fan_id).update(assigned_to=assignee)
        conversation.assigned_to = assignee
        announce(
            [shop_group(conversation.shop_id)],
            {
                "type": "conversation.assigned",
                "conversation": conversation.pk,
                "assigned_to": assignee.pk if assignee else None,
            },
        )
    return conversation
