"""Group commit for text messages: many `message.send`s stored in one transaction (the websocket's path).

The answers are message_send's, in order: its checks, access rule and announcements come from
fans.services.chat; only the statements are batched. One transaction per message held the send path to
about 600 msgs/s on two cores (bench/chat.py), most of it per-statement overhead and thread hops.
"""

import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from core.errors import DomainError, Invalid, NotFound, RateLimited
from fans.chat.append import NewMessage, conversations_lock, messages_append, text_check
from fans.chat.models import Message, MessageKind, Side
from fans.chat.ratelimit import message_rate_check_many, message_rate_refund
from fans.chat.services import (
    _as_int,
    _message_store,
    _parse_client_id,
    message_send,
    resend_first,
)
from shops.models import ShopMember

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextSend:
    """One `message.send` of kind text, as message_send_batch takes it (the fields as the client sent them)."""

    user: AbstractBaseUser
    conversation_id: Any
    client_id: Any
    text: Any
    language: str | None = None  # the sender's language, for refusals (a batch mixes senders)


SendResult = tuple[Message, bool] | DomainError


def message_send_batch(sends: list[TextSend]) -> list[SendResult]:
    """message_send for many text messages at once (group commit): the same answers, in the same order.

    The accepted messages are stored in one transaction (one lock statement, one multi-row INSERT, one
    UPDATE of their conversations), so a busy server pays one commit per batch instead of one per message.
    Every answer holds only after that commit, and the caller acks nothing before this returns.
    """
    results: list[SendResult | None] = [None] * len(sends)
    firsts: list[tuple[int, uuid.UUID, str, int]] = []
    repeats: list[int] = []
    seen: set[tuple[int, uuid.UUID]] = set()
    for i, send in enumerate(sends):
        try:
            with _language(send):
                cid, text, conversation_pk = _text_send_clean(send)
        except DomainError as refused:
            results[i] = refused
            continue
        if (send.user.pk, cid) in seen:
            repeats.append(i)
        else:
            seen.add((send.user.pk, cid))
            firsts.append((i, cid, text, conversation_pk))

    allowed = message_rate_check_many([sends[i].user.pk for i, *_rest in firsts])
    todo = []
    for entry, ok in zip(firsts, allowed, strict=True):
        if ok:
            todo.append(entry)
        else:
            with _language(sends[entry[0]]):
                results[entry[0]] = _resend_or_refusal(sends[entry[0]], entry[1], entry[3])
    if todo:
        try:
            stored = _text_batch_store([(sends[i].user, cid, text, conv) for i, cid, text, conv in todo])
        except DatabaseError as exc:
            # Most likely a resend of a stored client_id (the unique constraint): one by one, each resend
            # is answered with its first message, as message_send does.
            logger.info("chat batch of %d fell back to one by one: %r", len(todo), exc)
            stored = []
            for i, cid, text, conv in todo:
                with _language(sends[i]):
                    stored.append(_store_or_refusal(sends[i].user, cid, text, conv))
        for (i, *_rest), result in zip(todo, stored, strict=True):
            results[i] = result
        # Resends store nothing and spend no budget (issue 17): give back what the check counted for them.
        message_rate_refund(
            [
                sends[i].user.pk
                for (i, *_rest), r in zip(todo, stored, strict=True)
                if isinstance(r, tuple) and not r[1]
            ]
        )
    for i in repeats:
        # The same client_id twice in one batch: the repeat is a resend, answered after the first's commit.
        send = sends[i]
        try:
            with _language(send):
                results[i] = message_send(
                    user=send.user,
                    conversation_id=send.conversation_id,
                    client_id=send.client_id,
                    text=send.text,
                )
        except DomainError as refused:
            results[i] = refused
    return results  # type: ignore[return-value]  # every slot is filled above


def _resend_or_refusal(send: TextSend, cid: uuid.UUID, conversation_pk: int) -> SendResult:
    """Over the rate limit: a resend is still answered with its first message; anything else is refused."""
    try:
        existing = resend_first(send.user, cid, conversation_pk)
    except DomainError as refused:
        return refused
    return RateLimited() if existing is None else (existing, False)


def _language(send: TextSend) -> Any:
    """Refusals in the sender's language (the batch runs in the context of whichever send started it)."""
    return translation.override(send.language) if send.language else contextlib.nullcontext()


def _text_send_clean(send: TextSend) -> tuple[uuid.UUID, str, int]:
    """message_send's checks of a text message, in the same order."""
    cid = _parse_client_id(send.client_id)
    text = "" if send.text is None else send.text
    if not isinstance(text, str):
        raise Invalid(_("text must be a string."))
    text = text.strip()
    text_check(text)
    conversation_pk = _as_int(send.conversation_id)
    if conversation_pk is None:
        raise NotFound()
    return cid, text, conversation_pk


def _store_or_refusal(user: AbstractBaseUser, cid: uuid.UUID, text: str, conversation_pk: int) -> SendResult:
    try:
        return _message_store(
            user=user, conversation_pk=conversation_pk, cid=cid, kind=MessageKind.TEXT, text=text
        )
    except DomainError as refused:
        return refused


def _text_batch_store(items: list[tuple[AbstractBaseUser, uuid.UUID, str, int]]) -> list[SendResult]:
    """Store (user, client_id, text, conversation) text messages in one transaction, in order."""
    with transaction.atomic(durable=True):
        locked = conversations_lock(sorted({conversation_pk for *_rest, conversation_pk in items}))
        # Senders who are not the conversation's fan may be staff of its shop (the rule of access_conversation).
        maybe_staff = {
            (locked[conversation_pk].shop_id, user.pk)
            for user, *_rest, conversation_pk in items
            if conversation_pk in locked and locked[conversation_pk].fan.user_id != user.pk
        }
        staff = _active_staff(maybe_staff) if maybe_staff else set()
        results: list[SendResult | None] = []
        accepted: list[NewMessage] = []
        for user, cid, text, conversation_pk in items:
            conversation = locked.get(conversation_pk)
            if conversation is not None and conversation.fan.user_id == user.pk:
                side = Side.FAN
            elif conversation is not None and (conversation.shop_id, user.pk) in staff:
                side = Side.SHOP
            else:
                results.append(NotFound())  # no such conversation, or not the sender's: one answer
                continue
            accepted.append(
                NewMessage(conversation=conversation, side=side, text=text, sender=user, client_id=cid)
            )
            results.append(None)
        stored = iter((message, True) for message in messages_append(accepted))
        return [next(stored) if result is None else result for result in results]


def _active_staff(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which (shop id, user id) pairs are active staff memberships."""
    shop_ids, user_ids = sorted({s for s, _u in pairs}), sorted({u for _s, u in pairs})
    found = ShopMember.objects.filter(shop_id__in=shop_ids, user_id__in=user_ids, is_active=True)
    return pairs & set(found.values_list("shop_id", "user_id"))
