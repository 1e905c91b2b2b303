"""Real-time fan-out over the channel layer, only ever after the database commit.

The channel layer is at-most-once; clients catch up from the database by `seq` after reconnecting.
"""

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def shop_group(shop_id: int) -> str:
    return f"shop.{shop_id}"


_django_default = DjangoJSONEncoder().default
# orjson encodes a chat frame in about a fifth of json.dumps' time (bench/chat.py, issue 17). Datetimes go
# through Django's encoder, as before (milliseconds, "Z"); int keys become strings, as json.dumps does.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def encode_frame(frame: dict[str, Any]) -> str:
    try:
        return orjson.dumps(frame, default=_django_default, option=_ORJSON_OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):
        # What orjson refuses and json takes (an integer over 64 bits, a lone surrogate in a key).
        return json.dumps(frame, ensure_ascii=False, cls=DjangoJSONEncoder, separators=(",", ":"))


def _chat_event(frame: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer event that carries one encoded frame to the consumers of a group."""
    return {"type": "chat.event", "frame": encode_frame(frame)}


async def publish_async(groups: list[str], frame: dict[str, Any]) -> None:
    event = _chat_event(frame)
    await group_send_many([(group, event) for group in groups])


async def group_send_many(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Send events to groups, best effort: on Redis pub/sub all of them in one pipelined round trip."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    if isinstance(layer, RedisPubSubChannelLayer):
        try:
            await _pubsub_publish_many(layer, sends)
        except Exception as exc:  # noqa: BLE001 - delivery is best effort; clients sync from the database
            logger.warning("channel layer send of %d events failed: %r", len(sends), exc)
        return
    results = await asyncio.gather(*(layer.group_send(g, e) for g, e in sends), return_exceptions=True)
    for (group, _event), result in zip(sends, results, strict=True):
        if isinstance(result, BaseException):
            # Delivery is best effort; the message is already stored and will be synced.
            logger.warning("channel layer send to %s failed: %r", group, result)


async def _pubsub_publish_many(
    layer: RedisPubSubChannelLayer, sends: list[tuple[str, dict[str, Any]]]
) -> None:
    """What group_send does for each (group, event), as one pipeline per Redis shard.

    The stock group_send holds the connection's lock for a whole round trip per group, so a busy process
    publishes one event at a time. This reaches into channels_redis 4.x internals (the group's channel
    name, the shard and its connection); tests/fans/test_consumer.py and test_scaleout.py exercise it.
    """
    loop_layer = layer._get_layer()
    by_shard: dict[Any, list[tuple[str, bytes]]] = {}
    encoded: dict[int, bytes] = {}
    for group, event in sends:
        channel = loop_layer._get_group_channel_name(group)
        data = encoded.get(id(event))
        if data is None:
            data = encoded[id(event)] = layer.serialize(event)
        by_shard.setdefault(loop_layer._get_shard(channel), []).append((channel, data))
    for shard, items in by_shard.items():
        async with shard._lock:
            shard._ensure_redis()
            pipe = shard._redis.pipeline(transaction=False)
            for channel, data in items:
                pipe.publish(channel, data)
            await pipe.execute()


PUBLISH_TIMEOUT_S = 5.0


class _PublisherLoop:
    """One long-lived event loop per process for sync callers outside the ASGI server (WSGI workers, Celery
    workers, management commands). async_to_sync there would start a new loop, and with it a new Redis
    connection, for every publish: measured at 10-20% of a pledge server's Python time (bench/preorders.py).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fansi-publisher", daemon=True)
        self.thread.start()

    def run_many(self, frames: list[tuple[list[str], dict[str, Any]]]) -> None:
        future = asyncio.run_coroutine_threadsafe(publish_collected(frames), self.loop)
        future.result(PUBLISH_TIMEOUT_S)


_publisher: _PublisherLoop | None = None
_publisher_lock = threading.Lock()


def _publisher_loop() -> _PublisherLoop:
    global _publisher
    with _publisher_lock:
        # A forked child (Celery prefork) inherits the object but not the thread: start its own.
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = _PublisherLoop()
        return _publisher


def _in_server_thread() -> bool:
    """Is this a sync_to_async thread of an ASGI server (Daphne), whose event loop can publish for us?"""
    local = SyncToAsync.threadlocal
    return (
        getattr(local, "main_event_loop", None) is not None
        and getattr(local, "main_event_loop_pid", None) == os.getpid()
    )


def publish(groups: list[str], frame: dict[str, Any]) -> None:
    publish_many([(groups, frame)])


# When an async caller (the websocket consumer) runs a service in a worker thread, it collects the
# committed announcements here and publishes them on the event loop itself, instead of blocking the
# worker thread on a hop back to the loop.
_collector: contextvars.ContextVar[list[tuple[list[str], dict[str, Any]]] | None] = contextvars.ContextVar(
    "fansi_event_collector", default=None
)


def announce(groups: list[str], frame: dict[str, Any]) -> None:
    """Publish `frame` to `groups` once the current transaction commits."""
    announce_many([(groups, frame)])


Frame = dict[str, Any] | Callable[[], dict[str, Any]]


def frame_of(frame: Frame) -> dict[str, Any]:
    """A frame, or a frame built only when it is sent (a large batch skips groups nobody listens to)."""
    return frame() if callable(frame) else frame


def announce_many(frames: list[tuple[list[str], Frame]]) -> None:
    """announce() for many frames: after commit, all of them in one pipelined round trip. A frame may be a
    function building it; small batches are built at once, so what is collected is plain frames."""
    if not frames:
        return
    if len(frames) < LISTENED_CHECK_MIN:
        frames = [(groups, frame_of(frame)) for groups, frame in frames]
    bucket = _collector.get()
    if bucket is not None:
        transaction.on_commit(functools.partial(bucket.extend, frames))
    else:
        transaction.on_commit(functools.partial(publish_many, frames))


def publish_many(frames: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Publish frames now, best effort, in one round trip (outside the server's event loop too)."""
    try:
        if isinstance(get_channel_layer(), RedisPubSubChannelLayer) and not _in_server_thread():
            _publisher_loop().run_many(frames)
        else:
            async_to_sync(publish_collected)(frames)
    except Exception:  # noqa: BLE001 - never fail a committed write because fan-out failed
        logger.exception("publishing %d frames failed", len(frames))


@contextlib.contextmanager
def announcements_collected() -> Iterator[list[tuple[list[str], dict[str, Any]]]]:
    """Collect (not publish) what services announce in this context; pair with publish_collected()."""
    bucket: list[tuple[list[str], dict[str, Any]]] = []
    token = _collector.set(bucket)
    try:
        yield bucket
    finally:
        _collector.reset(token)


async def publish_collected(bucket: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Publish what was collected, every frame encoded once, all of it in one round trip.

    A large batch (a broadcast) first asks Redis which of its groups have a listener at all, and encodes
    and sends only the frames someone can receive: the rest are in the database for the next sync.
    """
    if len(bucket) >= LISTENED_CHECK_MIN:
        listened = await _listened_groups({group for groups, _frame in bucket for group in groups})
        if listened is not None:
            bucket = [
                (kept, frame) for groups, frame in bucket if (kept := [g for g in groups if g in listened])
            ]
    sends = []
    for groups, frame in bucket:
        event = _chat_event(frame_of(frame))
        sends += [(group, event) for group in groups]
    await group_send_many(sends)


# Batches at least this large check for listeners first (one PUBSUB NUMSUB round trip per shard).
LISTENED_CHECK_MIN = 50
_NUMSUB_CHUNK = 5000


async def _listened_groups(groups: set[str]) -> set[str] | None:
    """The groups with at least one subscriber on Redis pub/sub; None when that cannot be told (another
    layer, or Redis not answering), so the caller publishes everything."""
    layer = get_channel_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    try:
        loop_layer = layer._get_layer()
        by_shard: dict[Any, dict[str, str]] = {}
        for group in groups:
            channel = loop_layer._get_group_channel_name(group)
            by_shard.setdefault(loop_layer._get_shard(channel), {})[channel] = group
        listened: set[str] = set()
        for shard, channels in by_shard.items():
            names = list(channels)
            async with shard._lock:
                shard._ensure_redis()
                for start in range(0, len(names), _NUMSUB_CHUNK):
                    counts = await shard._redis.pubsub_numsub(*names[start : start + _NUMSUB_CHUNK])
                    for channel, count in counts:
                        if count:
                            key = channel.decode() if isinstance(channel, bytes) else channel
                            listened.add(channels[key])
        return listened
    except Exception as exc:  # noqa: BLE001 - when unsure, publish everything
        logger.warning("could not ask Redis for listeners: %r", exc)
        return None
