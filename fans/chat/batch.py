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
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import DomainError, Invalid, NotFound, RateLimited
from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
from fans.chat.ratelimit import message_rate_check_many
from fans.chat.services import (
    _as_int,
    _conversation_from_row,
    _message_announce,
    _message_store,
    _parse_client_id,
    _preview,
    _text_check,
    message_send,
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
                results[entry[0]] = RateLimited()
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
    _text_check(text)
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
        locked = _conversations_lock(sorted({conversation_pk for *_rest, conversation_pk in items}))
        # Senders who are not the conversation's fan may be staff of its shop (the rule of access_conversation).
        maybe_staff = {
            (locked[conversation_pk].shop_id, user.pk)
            for user, *_rest, conversation_pk in items
            if conversation_pk in locked and locked[conversation_pk].fan.user_id != user.pk
        }
        staff = _active_staff(maybe_staff) if maybe_staff else set()
        results: list[SendResult | None] = []
        accepted: list[tuple[Conversation, AbstractBaseUser, str, uuid.UUID, str]] = []
        for user, cid, text, conversation_pk in items:
            conversation = locked.get(conversation_pk)
            if conversation is not None and conversation.fan.user_id == user.pk:
                side = Side.FAN
            elif conversation is not None and (conversation.shop_id, user.pk) in staff:
                side = Side.SHOP
            else:
                results.append(NotFound())  # no such conversation, or not the sender's: one answer
                continue
            accepted.append((conversation, user, side, cid, text))
            results.append(None)
        stored = iter(_text_messages_append(accepted) if accepted else [])
        return [next(stored) if result is None else result for result in results]


def _conversations_lock(conversation_ids: list[int]) -> dict[int, Conversation]:
    """Lock conversations in id order, so that concurrent batches cannot deadlock."""
    conv, fan = Conversation._meta.db_table, Fan._meta.db_table
    connection = transaction.get_connection()
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.last_seq, c.shop_id, c.fan_id, f.user_id, f.display_name, c.bot_paused "
            f"FROM {conv} c INNER JOIN {fan} f ON f.id = c.fan_id "
            f"WHERE c.id IN ({', '.join(['%s'] * len(conversation_ids))}) ORDER BY c.id{lock}",
            conversation_ids,
        )
        return {row[0]: _conversation_from_row(row[0], row[1:]) for row in cursor.fetchall()}


def _active_staff(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which (shop id, user id) pairs are active staff memberships."""
    shop_ids, user_ids = sorted({s for s, _u in pairs}), sorted({u for _s, u in pairs})
    found = ShopMember.objects.filter(shop_id__in=shop_ids, user_id__in=user_ids, is_active=True)
    return pairs & set(found.values_list("shop_id", "user_id"))


def _text_messages_append(
    entries: list[tuple[Conversation, AbstractBaseUser, str, uuid.UUID, str]],
) -> list[tuple[Message, bool]]:
    """_message_append for many text messages at once: one INSERT and one UPDATE of their conversations
    (on PostgreSQL; elsewhere one UPDATE per conversation), and the same announcements after commit."""
    connection = transaction.get_connection()
    opts = Message._meta
    prep_cid = opts.get_field("client_id").get_db_prep_save
    prep_at = opts.get_field("created_at").get_db_prep_save
    messages: list[Message] = []
    counters: dict[int, _Counters] = {}
    rows: list[tuple[Any, ...]] = []
    for conversation, sender, side, cid, text in entries:
        conversation.last_seq += 1
        message = Message(
            conversation=conversation,
            seq=conversation.last_seq,
            sender=sender,
            side=side,
            kind=MessageKind.TEXT,
            text=text,
            payload={},
            client_id=cid,
            created_at=timezone.now(),
        )
        messages.append(message)
        created_at = prep_at(message.created_at, connection)
        rows.append(
            (
                conversation.pk,
                message.seq,
                sender.pk,
                side,
                MessageKind.TEXT.value,
                text,
                prep_cid(cid, connection),
                created_at,
            )
        )
        counters.setdefault(conversation.pk, _Counters()).add(message, created_at)
    with connection.cursor() as cursor:
        ids = _messages_insert(cursor, connection.vendor, rows)
        _conversations_update(cursor, connection.vendor, counters)
    for message in messages:
        message.pk = ids[(message.conversation_id, message.seq)]
        _message_announce(message.conversation, message)
    return [(message, True) for message in messages]


_TEXT_COLUMNS = (
    ("conversation", "bigint"),
    ("seq", "bigint"),
    ("sender", "bigint"),
    ("side", "varchar"),
    ("kind", "varchar"),
    ("text", "text"),
    ("client_id", "uuid"),
    ("created_at", "timestamptz"),
)


def _messages_insert(cursor: Any, vendor: str, rows: list[tuple[Any, ...]]) -> dict[tuple[int, int], int]:
    """Insert text message rows (_TEXT_COLUMNS); {(conversation id, seq): message id}."""
    opts = Message._meta
    columns = [opts.get_field(name).column for name, _type in _TEXT_COLUMNS]
    columns += [opts.get_field(name).column for name in ("payload", "image", "thumbnail")]
    constants = "'{}', '', ''"  # no card, no image
    if vendor == "postgresql":
        # One array per column: the statement text stays the same whatever the batch size, so the driver
        # does not re-parse a statement with hundreds of placeholders every time.
        arrays = ", ".join(f"%s::{type_}[]" for _name, type_ in _TEXT_COLUMNS)
        cursor.execute(
            f"INSERT INTO {opts.db_table} ({', '.join(columns)}) SELECT u.*, {constants} "
            f"FROM unnest({arrays}) AS u RETURNING id, conversation_id, seq",
            [list(column) for column in zip(*rows, strict=True)],
        )
    else:
        row = "(" + ", ".join(["%s"] * len(_TEXT_COLUMNS)) + f", {constants})"
        cursor.execute(
            f"INSERT INTO {opts.db_table} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))} "
            f"RETURNING id, conversation_id, seq",
            [value for row_values in rows for value in row_values],
        )
    return {(conversation_id, seq): pk for pk, conversation_id, seq in cursor.fetchall()}


@dataclass
class _Counters:
    """What a batch's messages do to one conversation row, composed in order (see _message_append):
    a counter is reset (to `*_from`) and then incremented by `*_add`; a read pointer moves to `*_read`."""

    last_seq: int = 0
    last_at: Any = None
    preview: str = ""
    fan_read: int | None = None
    shop_read: int | None = None
    fan_unread_from: int | None = None
    fan_unread_add: int = 0
    shop_unread_from: int | None = None
    shop_unread_add: int = 0
    pause: bool = False

    def add(self, message: Message, created_at: Any) -> None:
        self.last_seq, self.last_at = message.seq, created_at
        self.preview = _preview(message.kind, message.text, message.payload)
        if message.side == Side.FAN:
            # Sending implies having read everything before it.
            self.fan_read, self.fan_unread_from, self.fan_unread_add = message.seq, 0, 0
            self.shop_unread_add += 1
        else:
            # A person replied: the bot steps back in this conversation until told to resume (handoff).
            self.shop_read, self.shop_unread_from, self.shop_unread_add = message.seq, 0, 0
            self.fan_unread_add += 1
            self.pause = True

    def values(self) -> list[Any]:
        return [getattr(self, name) for name, _type in _COUNTER_FIELDS]


_COUNTER_FIELDS = (
    ("last_seq", "bigint"),
    ("last_at", "timestamptz"),
    ("preview", "varchar"),
    ("fan_read", "bigint"),
    ("shop_read", "bigint"),
    ("fan_unread_from", "integer"),
    ("fan_unread_add", "integer"),
    ("shop_unread_from", "integer"),
    ("shop_unread_add", "integer"),
    ("pause", "boolean"),
)
# Each value appears once, in _COUNTER_FIELDS order, so positional parameters line up too.
_COUNTER_SET = (
    "last_seq = {last_seq}, last_message_at = {last_at}, last_message_preview = {preview}, "
    "fan_read_seq = COALESCE({fan_read}, {c}fan_read_seq), "
    "shop_read_seq = COALESCE({shop_read}, {c}shop_read_seq), "
    "fan_unread = COALESCE({fan_unread_from}, {c}fan_unread) + {fan_unread_add}, "
    "shop_unread = COALESCE({shop_unread_from}, {c}shop_unread) + {shop_unread_add}, "
    "bot_paused = ({c}bot_paused OR {pause})"
)


def _conversations_update(cursor: Any, vendor: str, counters: dict[int, _Counters]) -> None:
    table = Conversation._meta.db_table
    if vendor == "postgresql":
        assignments = _COUNTER_SET.format(c="c.", **{name: f"v.{name}" for name, _type in _COUNTER_FIELDS})
        names = ", ".join(["id", *(name for name, _type in _COUNTER_FIELDS)])
        arrays = ", ".join(["%s::bigint[]", *(f"%s::{type_}[]" for _name, type_ in _COUNTER_FIELDS)])
        columns = zip(*((pk, *counter.values()) for pk, counter in counters.items()), strict=True)
        cursor.execute(
            f"UPDATE {table} AS c SET {assignments} FROM unnest({arrays}) AS v({names}) WHERE c.id = v.id",
            [list(column) for column in columns],
        )
        return
    # Elsewhere (SQLite in development): the same assignments, one statement per conversation.
    assignments = _COUNTER_SET.format(c="", **{name: "%s" for name, _type in _COUNTER_FIELDS})
    for pk, counter in counters.items():
        cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*counter.values(), pk])
