"""The one way a message enters a conversation: messages_append().

Every message goes through it: a person's send (single or group-committed), bot replies and away
messages, broadcasts, cards and the platform's notices (campaign, balance, shipment). It assigns `seq`,
moves the counters, preview and unread state, enforces the text rules and announces `message.new` to both
sides after commit. The caller holds the conversations locked (conversations_lock), in id order.

It speaks plain SQL, set-based on PostgreSQL: the send path is the hottest code in Fansi, and the ORM's
query compilation cost more CPU than the database work (bench/chat.py). One INSERT for all the messages
and one UPDATE for all their conversations, whatever their number.
"""

import functools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import is_postgresql, sql_in
from core.errors import Invalid, TooLong
from core.events import announce_many, shop_group, user_group
from core.limits import message_max_length
from fans.chat.hooks import PersistedMessage, fan_text_listeners, message_persisted_listeners
from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
from fans.chat.selectors import message_to_dict

CARD_KINDS = {MessageKind.PRODUCT_CARD, MessageKind.CAMPAIGN_CARD}


def text_problem(text: str) -> str | None:
    """Why this text cannot be stored, or None. NUL and lone surrogates pass JSON and Python but not
    PostgreSQL or UTF-8, so they are refused at the edge, before they can fail anyone else's batch."""
    if "\x00" in text:
        return _("The text contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _("The text is not valid Unicode (a lone surrogate).")
    return None


def text_check(text: str, *, allow_empty: bool = False) -> None:
    """The rules for any message text: not empty (unless the message has other content), within the
    length limit, and storable."""
    if not text and not allow_empty:
        raise Invalid(_("The message is empty."))
    limit = message_max_length()
    if len(text) > limit:
        raise TooLong(_("A message can have at most %(n)d characters.") % {"n": limit})
    problem = text_problem(text)
    if problem:
        raise Invalid(problem, code="invalid_text")


def preview_of(kind: str, text: str, payload: dict[str, Any]) -> str:
    if kind == MessageKind.IMAGE:
        return _("[Image]")
    if kind in CARD_KINDS or (kind == MessageKind.SYSTEM and not text and payload):
        return f"[{payload.get('name') or payload.get('title') or _('Card')}]"[:200]
    return text[:200]


@dataclass(slots=True)
class NewMessage:
    """One message to append to a conversation the caller holds locked."""

    conversation: Conversation
    side: str
    kind: str = MessageKind.TEXT
    text: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    sender: Any = None  # the user on the shop's or fan's side; None for the bot and the platform
    client_id: uuid.UUID | None = None
    processed: Any = None  # fans.chat.images.ProcessedImage, for image messages
    # A person on the shop's side answering this fan: the bot steps back (hand-off). A broadcast is
    # the shop speaking to many fans, not a reply, so it does not.
    hands_off: bool | None = None
    # Whether this answers the fan (the inbox's 待回复 clears): a person's reply or the bot's answer, by
    # default; a broadcast, a notice or the bot's away message does not.
    answers: bool | None = None

    def __post_init__(self) -> None:
        if self.hands_off is None:
            self.hands_off = self.side == Side.SHOP
        if self.answers is None:
            self.answers = (self.side == Side.SHOP and self.hands_off) or self.side == Side.BOT

    def moves_inbox(self) -> bool:
        """The fan writing or a person answering moves the conversation up the inbox; nothing else."""
        return self.side == Side.FAN or bool(self.side == Side.SHOP and self.hands_off)

    def awaiting_reply(self) -> bool | None:
        """The conversation's 待回复 after this message: on, off, or None for unchanged."""
        if self.side == Side.FAN:
            return True
        return False if self.answers else None


def _message_frame(message: Message, entry: "NewMessage") -> dict[str, Any]:
    # How the message moves the inbox (_Counters): to the top or not, and 待回复 on, off or as it was.
    inbox = {"moves_inbox": entry.moves_inbox(), "awaiting_reply": entry.awaiting_reply()}
    return {"type": "message.new", "message": {**message_to_dict(message), **inbox}}


def conversations_lock(
    conversation_ids: list[int] = (), *, fan_ids: list[int] = ()
) -> dict[int, Conversation]:
    """Lock conversations (by id, or the conversations of these fans) in id order, so concurrent appends
    cannot deadlock, as messages_append reads them: last_seq, shop, fan (with user and display name) and
    bot_paused; other fields are deferred."""
    key, ids = ("c.fan_id", fan_ids) if fan_ids else ("c.id", conversation_ids)
    if not ids:
        return {}
    conv, fan = Conversation._meta.db_table, Fan._meta.db_table
    connection = transaction.get_connection()
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
    where, params = sql_in(key, sorted(ids), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.last_seq, c.shop_id, c.fan_id, f.user_id, f.display_name, c.bot_paused "
            f"FROM {conv} c INNER JOIN {fan} f ON f.id = c.fan_id WHERE {where} ORDER BY c.id{lock}",
            params,
        )
        alias = connection.alias
        return {row[0]: conversation_from_row(row[0], row[1:], alias=alias) for row in cursor.fetchall()}


def conversation_from_row(
    conversation_id: int, row: tuple[Any, ...], *, alias: str | None = None
) -> Conversation:
    """The locked conversation from (last_seq, shop_id, fan_id, fan's user_id, fan's display_name,
    bot_paused), without the ORM's query."""
    last_seq, shop_id, fan_id, fan_user_id, display_name, bot_paused = row
    # The connection is looked up once per batch: each lookup is a context-local read (asgiref).
    alias = alias or transaction.get_connection().alias
    fan = _instance(
        Fan, alias, {"id": fan_id, "shop_id": shop_id, "user_id": fan_user_id, "display_name": display_name}
    )
    conversation = _instance(
        Conversation,
        alias,
        {
            "id": conversation_id,
            "shop_id": shop_id,
            "fan_id": fan_id,
            "last_seq": last_seq,
            "bot_paused": bot_paused,
        },
    )
    conversation._state.fields_cache["fan"] = fan
    return conversation


def _instance(model: type, alias: str | None, values: dict[str, Any], *, adding: bool = False) -> Any:
    """A model instance from known column values, without Model.__init__ (no signals, no descriptors):
    a broadcast builds thousands per batch. Fields left out are deferred, loaded if read."""
    obj = model.__new__(model)
    obj.__dict__.update(values)
    obj._state = ModelState()
    obj._state.adding, obj._state.db = adding, alias
    return obj


def messages_append(entries: list[NewMessage]) -> list[Message]:
    """Append the messages, in order, to their locked conversations; announce them after commit."""
    if not entries:
        return []
    for entry in entries:
        text_check(entry.text, allow_empty=entry.kind != MessageKind.TEXT)
    connection = transaction.get_connection()
    now = timezone.now()
    messages: list[Message] = []
    counters: dict[int, _Counters] = {}
    for entry in entries:
        conversation = entry.conversation
        conversation.last_seq += 1
        message = _instance(
            Message,
            None,
            {
                "id": None,
                "conversation_id": conversation.pk,
                "seq": conversation.last_seq,
                "sender_id": entry.sender.pk if entry.sender is not None else None,
                "side": entry.side,
                "kind": entry.kind,
                "text": entry.text,
                "payload": entry.payload,
                "image": "",
                "thumbnail": "",
                "image_width": None,
                "image_height": None,
                "client_id": entry.client_id,
                "created_at": now,
            },
            adding=True,
        )
        message._state.fields_cache.update(conversation=conversation, sender=entry.sender)
        if entry.processed is not None:
            processed = entry.processed
            message.image.save(processed.image.name, processed.image, save=False)
            message.thumbnail.save(processed.thumbnail.name, processed.thumbnail, save=False)
            message.image_width, message.image_height = processed.width, processed.height
        messages.append(message)
        counters.setdefault(conversation.pk, _Counters()).add(message, entry)
    with connection.cursor() as cursor:
        ids = _messages_insert(cursor, connection, messages)
        _conversations_update(cursor, connection, counters, now)
    frames = []
    for message, entry in zip(messages, entries, strict=True):
        message.pk = ids[(message.conversation_id, message.seq)]
        conversation = entry.conversation
        frames.append(
            (
                [user_group(conversation.fan.user_id), shop_group(conversation.shop_id)],
                # Built only if someone listens (core.events.publish_collected skips unheard groups).
                functools.partial(_message_frame, message, entry),
            )
        )
        if entry.hands_off and message.side == Side.SHOP and not conversation.bot_paused:
            conversation.bot_paused = True
            frames.append(
                (
                    [shop_group(conversation.shop_id)],
                    {"type": "conversation.bot", "conversation": conversation.pk, "paused": True},
                )
            )
    announce_many(frames)
    for message, entry in zip(messages, entries, strict=True):
        if message.side == Side.FAN and message.kind == MessageKind.TEXT:
            for listener in fan_text_listeners.providers():
                listener(entry.conversation, message)
    if message_persisted_listeners.keys():
        _persisted_after_commit(
            connection,
            [
                PersistedMessage(
                    message.pk,
                    message.conversation_id,
                    entry.conversation.shop_id,
                    entry.conversation.fan.user_id,
                    message.side,
                    message.kind,
                    bool(entry.hands_off),
                )
                for message, entry in zip(messages, entries, strict=True)
            ],
        )
    return messages


class _PersistedBatch:
    """The messages one transaction stored, handed to the listeners once, after its commit."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[PersistedMessage] = []

    def __call__(self) -> None:
        for listener in message_persisted_listeners.providers():
            listener(self.items)


def _persisted_after_commit(connection: Any, items: list[PersistedMessage]) -> None:
    """Batched per transaction: a notice loop of 50 appends makes one after-commit call, not 50. The batch
    is the one still queued on this connection (a rolled-back savepoint drops it, and a new one starts)."""
    batch = getattr(connection, "_fansi_persisted_batch", None)
    if batch is None or not any(entry[1] is batch for entry in connection.run_on_commit):
        batch = _PersistedBatch()
        connection._fansi_persisted_batch = batch
        batch.items.extend(items)
        transaction.on_commit(batch, using=connection.alias)
        return
    batch.items.extend(items)


# (field, PostgreSQL array type) of every column a message row is inserted with.
_COLUMNS = (
    ("conversation", "bigint"),
    ("seq", "bigint"),
    ("sender", "bigint"),
    ("side", "varchar"),
    ("kind", "varchar"),
    ("text", "text"),
    ("payload", "text"),  # JSON text, cast to jsonb in the statement
    ("image", "varchar"),
    ("thumbnail", "varchar"),
    ("image_width", "integer"),
    ("image_height", "integer"),
    ("client_id", "uuid"),
    ("created_at", "timestamptz"),
)


_ALWAYS_VARYING = {"conversation", "seq"}


def _rows(messages: list[Message], connection: Any) -> list[tuple[Any, ...]]:
    """The INSERT's values (_COLUMNS order). Values prepared for the database once per distinct value:
    a broadcast's thousands of rows share one card, one time and no client id."""
    opts = Message._meta
    prep_cid = opts.get_field("client_id").get_db_prep_save
    prep_at = opts.get_field("created_at").get_db_prep_save
    payloads: dict[int, str] = {}
    times: dict[Any, Any] = {}
    rows = []
    for message in messages:
        payload = message.payload or {}
        encoded = payloads.get(id(payload))
        if encoded is None:
            encoded = payloads[id(payload)] = json.dumps(payload, ensure_ascii=False)
        created = times.get(message.created_at)
        if created is None:
            created = times[message.created_at] = prep_at(message.created_at, connection)
        fields = message.__dict__  # the plain values (the file fields' names, not their FieldFiles)
        rows.append(
            (
                message.conversation_id,
                message.seq,
                message.sender_id,
                message.side,
                message.kind,
                message.text,
                encoded,
                str(fields["image"] or ""),
                str(fields["thumbnail"] or ""),
                message.image_width,
                message.image_height,
                None if message.client_id is None else prep_cid(message.client_id, connection),
                created,
            )
        )
    return rows


def _messages_insert(cursor: Any, connection: Any, messages: list[Message]) -> dict[tuple[int, int], int]:
    """Insert the message rows; {(conversation id, seq): message id}."""
    opts = Message._meta
    columns = ", ".join(opts.get_field(name).column for name, _type in _COLUMNS)
    rows = _rows(messages, connection)
    if is_postgresql(connection) and len(rows) > 1:
        # One array per column that varies, one parameter for a column every row shares (a broadcast's
        # text and card): the statement text stays the same whatever the batch size, so the driver does
        # not re-parse a statement with hundreds of placeholders, and a broadcast sends two arrays, not 13.
        columns_values = list(zip(*rows, strict=True))
        select, unnested, params = [], [], {}
        for (name, type_), values in zip(_COLUMNS, columns_values, strict=True):
            cast = "jsonb" if name == "payload" else type_
            if name in _ALWAYS_VARYING or len(set(values)) > 1:
                unnested.append((name, type_))
                params[f"a_{name}"] = list(values)
                select.append(f"u.{name}::{cast}" if name == "payload" else f"u.{name}")
            else:
                params[f"c_{name}"] = values[0]
                select.append(f"%(c_{name})s::{cast}")
        arrays = ", ".join(f"%(a_{name})s::{type_}[]" for name, type_ in unnested)
        names = ", ".join(name for name, _type in unnested)
        cursor.execute(
            f"INSERT INTO {opts.db_table} ({columns}) SELECT {', '.join(select)} "
            f"FROM unnest({arrays}) AS u({names}) RETURNING id, conversation_id, seq",
            params,
        )
    else:
        # One message (a send, a notice: a plain VALUES plans faster than unnest), or SQLite.
        row = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        cursor.execute(
            f"INSERT INTO {opts.db_table} ({columns}) VALUES {', '.join([row] * len(rows))} "
            f"RETURNING id, conversation_id, seq",
            [value for values in rows for value in values],
        )
    return {(conversation_id, seq): pk for pk, conversation_id, seq in cursor.fetchall()}


@dataclass
class _Counters:
    """What one append's messages do to one conversation row, composed in order: a counter is reset (to
    `*_from`) and then incremented by `*_add`; a read pointer moves to `*_read`."""

    last_seq: int = 0
    preview: str = ""
    fan_read: int | None = None
    shop_read: int | None = None
    fan_unread_from: int | None = None
    fan_unread_add: int = 0
    shop_unread_from: int | None = None
    shop_unread_add: int = 0
    pause: bool = False
    # The inbox order moves only for the fan and a person answering; None leaves 待回复 as it was.
    active: bool = False
    awaiting: bool | None = None

    def add(self, message: Message, entry: NewMessage) -> None:
        hands_off = bool(entry.hands_off)
        self.last_seq = message.seq
        self.preview = preview_of(message.kind, message.text, message.payload)
        self.active = self.active or entry.moves_inbox()
        awaiting = entry.awaiting_reply()
        if awaiting is not None:
            self.awaiting = awaiting
        if message.side == Side.FAN:
            # Sending implies having read everything before it.
            self.fan_read, self.fan_unread_from, self.fan_unread_add = message.seq, 0, 0
            self.shop_unread_add += 1
        elif message.side == Side.SHOP and hands_off:
            # A person replied: they have read the fan, and the bot steps back (hand-off).
            self.shop_read, self.shop_unread_from, self.shop_unread_add = message.seq, 0, 0
            self.fan_unread_add += 1
            self.pause = True
        else:
            # The bot, the platform, or a broadcast: news for the fan, no change to the shop's side.
            self.fan_unread_add += 1


_COUNTER_FIELDS = (
    ("last_seq", "bigint"),
    ("preview", "varchar"),
    ("fan_read", "bigint"),
    ("shop_read", "bigint"),
    ("fan_unread_from", "integer"),
    ("fan_unread_add", "integer"),
    ("shop_unread_from", "integer"),
    ("shop_unread_add", "integer"),
    ("pause", "boolean"),
    ("active", "boolean"),
    ("awaiting", "boolean"),
)
# Each value appears once, in _COUNTER_FIELDS order (but the time, twice), so positional parameters line up.
_COUNTER_SET = (
    "last_seq = {last_seq}, last_message_at = {last_at}, last_message_preview = {preview}, "
    "fan_read_seq = COALESCE({fan_read}, {c}fan_read_seq), "
    "shop_read_seq = COALESCE({shop_read}, {c}shop_read_seq), "
    "fan_unread = COALESCE({fan_unread_from}, {c}fan_unread) + {fan_unread_add}, "
    "shop_unread = COALESCE({shop_unread_from}, {c}shop_unread) + {shop_unread_add}, "
    "bot_paused = ({c}bot_paused OR {pause}), "
    "activity_at = CASE WHEN {active} THEN {last_at2} ELSE {c}activity_at END, "
    "awaiting_reply = COALESCE({awaiting}, {c}awaiting_reply)"
)


def _conversations_update(cursor: Any, connection: Any, counters: dict[int, _Counters], now: Any) -> None:
    table = Conversation._meta.db_table
    last_at = Message._meta.get_field("created_at").get_db_prep_save(now, connection)
    values = {pk: [getattr(c, name) for name, _type in _COUNTER_FIELDS] for pk, c in counters.items()}
    if is_postgresql(connection) and len(values) > 1:
        # As for the insert: an array per counter that varies between the conversations, a parameter for
        # one they all share (a broadcast's preview and +1 unread).
        rows = list(values.values())
        params: dict[str, Any] = {"last_at": last_at, "a_id": list(values)}
        refs, unnested = {}, [("id", "bigint")]
        for i, (name, type_) in enumerate(_COUNTER_FIELDS):
            column = [row[i] for row in rows]
            if len(set(column)) > 1:
                unnested.append((name, type_))
                params[f"a_{name}"] = column
                refs[name] = f"v.{name}"
            else:
                params[f"c_{name}"] = column[0]
                refs[name] = f"%(c_{name})s::{type_}"
        assignments = _COUNTER_SET.format(c="c.", last_at="%(last_at)s", last_at2="%(last_at)s", **refs)
        arrays = ", ".join(f"%(a_{name})s::{type_}[]" for name, type_ in unnested)
        names = ", ".join(name for name, _type in unnested)
        cursor.execute(
            f"UPDATE {table} AS c SET {assignments} FROM unnest({arrays}) AS v({names}) WHERE c.id = v.id",
            params,
        )
        return
    # One conversation (a send, a notice), or SQLite: the same assignments, one statement per conversation.
    assignments = _COUNTER_SET.format(
        c="", last_at="%s", last_at2="%s", **{name: "%s" for name, _type in _COUNTER_FIELDS}
    )
    for pk, row in values.items():
        # The positional order of _COUNTER_SET: last_seq, last_at, the counters to pause, active, last_at
        # again, awaiting.
        *head, active, awaiting = row
        cursor.execute(
            f"UPDATE {table} SET {assignments} WHERE id = %s",
            [head[0], last_at, *head[1:], active, last_at, awaiting, pk],
        )
