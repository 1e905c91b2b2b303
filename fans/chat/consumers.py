"""The chat websocket (docs/chat-protocol.md). Thin: it parses frames and calls services."""

import asyncio
import functools
import logging
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from core.errors import DomainError, Invalid
from core.events import (
    announcements_collected,
    encode_frame,
    publish_async,
    publish_collected,
    shop_group,
    user_group,
)
from core.inputs import json_check, json_loads
from fans.chat import services
from fans.chat.access import access_conversation
from fans.chat.batch import TextSend, message_send_batch
from fans.chat.frame_throttle import FrameThrottle
from fans.chat.presence import presence_connect, presence_disconnect, presence_frames
from fans.chat.selectors import message_list, message_to_dict
from fans.chat.ws_auth import scope_language
from shops.access import staff_shop_ids

logger = logging.getLogger(__name__)
TYPING_MIN_INTERVAL_S = 2.0


@functools.cache
def _db_executor() -> ThreadPoolExecutor:
    # Each thread holds one database connection; size it with the database's max_connections in mind.
    return ThreadPoolExecutor(max_workers=settings.FANSI_CHAT["DB_THREADS"], thread_name_prefix="chat-db")


def db(func: Any) -> Any:
    """Run database work in the chat pool, so sockets wait on the database in parallel, not in turn."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_db_executor())


async def db_then_publish(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a service in the pool, then publish what it announced (after its commit) on the event loop."""
    with announcements_collected() as announced:
        result = await db(func)(*args, **kwargs)
    return result, announced


# Group commit: at most this many batches of one process are being stored at a time; sends that arrive
# meanwhile wait and go together in the next batch (so an idle server stores a lone message at once).
BATCHES_IN_FLIGHT = 1
BATCH_MAX = 256


class SendBatcher:
    """Text sends of one event loop, stored in batches (message_send_batch) and acked after each commit."""

    def __init__(self) -> None:
        self.waiting: list[tuple[TextSend, asyncio.Future]] = []
        self.in_flight = 0
        self.tasks: set[asyncio.Task] = set()

    async def send(self, request: TextSend) -> tuple[dict[str, Any], bool]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((request, future))
        if self.in_flight < BATCHES_IN_FLIGHT:
            self._start()
        return await future

    def _start(self) -> None:
        batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
        self.in_flight += 1
        task = asyncio.ensure_future(self._run(batch))
        self.tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self.tasks.discard)

    async def _run(self, batch: list[tuple[TextSend, asyncio.Future]]) -> None:
        try:
            with announcements_collected() as announced:
                results = await db(_store_batch)([request for request, _future in batch])
        except Exception as exc:  # noqa: BLE001 - each waiting sender gets it (an "internal" error frame)
            results = [exc] * len(batch)
            announced = []
        finally:
            self.in_flight -= 1
            if self.waiting:
                self._start()
        for (_request, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # the sender's socket went away; the message is stored and announced all the same
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        # The senders' acks were scheduled first; then one pipelined publish for the whole batch.
        await publish_collected(announced)


def _store_batch(requests: list[TextSend]) -> list[tuple[dict[str, Any], bool] | Exception]:
    return [
        result if isinstance(result, Exception) else (message_to_dict(result[0]), result[1])
        for result in message_send_batch(requests)
    ]


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SendBatcher] = weakref.WeakKeyDictionary()


def send_batcher() -> SendBatcher:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = SendBatcher()
    return batcher


def _frame_loads(text: str) -> Any:
    """orjson (issue 17: a fraction of json's time per frame), with core.inputs' depth and text checks; what
    orjson refuses (a lone surrogate, an integer over 64 bits, nesting past 1024) goes to core.inputs.json_loads,
    so every frame is answered as before: ValueError for malformed, a coded DomainError for too deep or bad text."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json_loads(text)
    return json_check(value)


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=4401)
            return
        self.user = user
        self.language = scope_language(self.scope)
        self.conversation_groups: dict[int, list[str]] = {}
        self.typing_sent: dict[int, float] = {}
        self.frame_throttle = FrameThrottle()  # sync and typing, per connection (issue 17)
        shop_ids = await db(staff_shop_ids)(user)
        self.joined = [user_group(user.pk)] + [shop_group(s) for s in shop_ids]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        if await db(presence_connect)(user.pk):
            await self.presence_announce(True)
        self.present = True
        await self.send_frame({"type": "hello", "user": user.pk, "shops": shop_ids})

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections before every frame through the one shared sync thread;
        # every ORM call here goes through DatabaseSyncToAsync, which already does that in its own thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "present", False) and await db(presence_disconnect)(self.user.pk):
            await self.presence_announce(False)
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def presence_announce(self, online: bool) -> None:
        """Best effort, like presence itself: a lost frame only leaves a stale 在线 until the next page."""
        try:
            await publish_collected(await db(presence_frames)(self.user.pk, online))
        except Exception:  # noqa: BLE001 - a socket must open and close whatever the fan-out does
            logger.warning("presence of user %s not announced", self.user.pk, exc_info=True)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=encode_frame(frame))

    async def send_error(self, code: str, message: str, client_id: Any = None) -> None:
        await self.send_frame({"type": "error", "code": code, "message": message, "client_id": client_id})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Error messages in the socket's language; the override reaches the ORM threads too (sync_to_async
        # runs them in a copy of this context), and a batched send carries its own (TextSend.language).
        with translation.override(self.language):
            await self._receive(text_data)

    async def _receive(self, text_data: str | None) -> None:
        if text_data is None:
            await self.send_error("invalid", _("Frames must be JSON text."))
            return
        try:
            data = _frame_loads(text_data)  # depth-limited, no lone surrogates (core.inputs)
        except ValueError:
            await self.send_error("invalid", _("Malformed JSON."))
            return
        except DomainError as exc:
            await self.send_error(exc.code, exc.message)
            return
        if not isinstance(data, dict):
            await self.send_error("invalid", _("A frame must be a JSON object."))
            return
        client_id = data.get("client_id") if isinstance(data.get("client_id"), str) else None
        handler = self.handlers.get(data.get("type"))
        if handler is None:
            await self.send_error("invalid", _("Unknown frame type."), client_id)
            return
        try:
            await handler(self, data)
        except DomainError as exc:
            await self.send_error(exc.code, exc.message, client_id)
        except Exception:
            logger.exception("chat frame %s failed", data.get("type"))
            await self.send_error("internal", _("Something went wrong; please retry."), client_id)

    # --- client frames ---------------------------------------------------------------------
    async def on_message_send(self, data: dict[str, Any]) -> None:
        if data.get("kind", "text") == "text":
            request = TextSend(
                user=self.user,
                conversation_id=data.get("conversation"),
                client_id=data.get("client_id"),
                text=data.get("text", ""),
                language=self.language,
            )
            message_dict, _created = await send_batcher().send(request)
            await self.send_frame(
                {"type": "message.ack", "client_id": message_dict["client_id"], "message": message_dict}
            )
            return
        try:
            (message_dict, _created), announced = await db_then_publish(self._message_send, data)
        except services.CardDeferred as deferred:
            frame = {"type": "message.deferred", "client_id": data.get("client_id"), **deferred.to_dict()}
            await self.send_frame(frame)
            return
        await self.send_frame(
            {"type": "message.ack", "client_id": message_dict["client_id"], "message": message_dict}
        )
        await publish_collected(announced)

    def _message_send(self, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        message, created = services.message_send(
            user=self.user,
            conversation_id=data.get("conversation"),
            client_id=data.get("client_id"),
            kind=data.get("kind", "text"),
            text=data.get("text", ""),
            payload=data.get("card"),
            defer_in_quiet=True,
        )
        return message_to_dict(message), created

    async def on_sync(self, data: dict[str, Any]) -> None:
        self.frame_throttle.check("sync")
        after_seq = data.get("after_seq", 0)
        if not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0:
            raise Invalid("after_seq must be a whole number ≥ 0.")
        frame = await db(self._sync_result)(data.get("conversation"), after_seq)
        await self.send_frame(frame)

    def _sync_result(self, conversation_id: Any, after_seq: int) -> dict[str, Any]:
        conversation, _side = access_conversation(self.user, conversation_id)
        page = settings.FANSI_CHAT["SYNC_PAGE_SIZE"]
        messages = message_list(conversation=conversation, after_seq=after_seq, limit=page + 1)
        return {
            "type": "sync.result",
            "conversation": conversation.pk,
            "messages": [message_to_dict(m) for m in messages[:page]],
            "has_more": len(messages) > page,
            "last_seq": conversation.last_seq,
        }

    async def on_read(self, data: dict[str, Any]) -> None:
        _conversation, announced = await db_then_publish(
            services.conversation_read,
            user=self.user,
            conversation_id=data.get("conversation"),
            seq=data.get("seq"),
        )
        await publish_collected(announced)

    async def on_typing(self, data: dict[str, Any]) -> None:
        self.frame_throttle.check("typing")
        conversation_id = data.get("conversation")
        if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):  # `true` is no id
            raise Invalid("conversation must be an id.")
        now = time.monotonic()
        if now - self.typing_sent.get(conversation_id, 0.0) < TYPING_MIN_INTERVAL_S:
            return
        groups = self.conversation_groups.get(conversation_id)
        if groups is None:
            groups = await db(self._conversation_groups)(conversation_id)
            self.conversation_groups[conversation_id] = groups
        self.typing_sent[conversation_id] = now
        await publish_async(groups, {"type": "typing", "conversation": conversation_id, "user": self.user.pk})

    def _conversation_groups(self, conversation_id: int) -> list[str]:
        conversation, _side = access_conversation(self.user, conversation_id)
        return services.conversation_groups(conversation)

    async def on_ping(self, data: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    handlers = {
        "message.send": on_message_send,
        "sync": on_sync,
        "read": on_read,
        "typing": on_typing,
        "ping": on_ping,
    }

    # --- channel layer events --------------------------------------------------------------
    async def chat_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["frame"])
