"""Real-time fan-out over the channel layer, only ever after the database commit.

The channel layer is at-most-once; clients catch up from the database by `seq` after reconnecting.
"""

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def shop_group(shop_id: int) -> str:
    return f"shop.{shop_id}"


def encode_frame(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, cls=DjangoJSONEncoder, separators=(",", ":"))


async def publish_async(groups: list[str], frame: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "chat.event", "frame": encode_frame(frame)}
    results = await asyncio.gather(*(layer.group_send(g, event) for g in groups), return_exceptions=True)
    for group, result in zip(groups, results, strict=True):
        if isinstance(result, BaseException):
            # Delivery is best effort; the message is already stored and will be synced.
            logger.warning("channel layer send to %s failed: %r", group, result)


def publish(groups: list[str], frame: dict[str, Any]) -> None:
    try:
        async_to_sync(publish_async)(groups, frame)
    except Exception:  # noqa: BLE001 - never fail a committed write because fan-out failed
        logger.exception("publishing %s failed", frame.get("type"))


# When an async caller (the websocket consumer) runs a service in a worker thread, it collects the
# committed announcements here and publishes them on the event loop itself, instead of blocking the
# worker thread on a hop back to the loop.
_collector: contextvars.ContextVar[list[tuple[list[str], dict[str, Any]]] | None] = contextvars.ContextVar(
    "fansi_event_collector", default=None
)


def _collect(
    bucket: list[tuple[list[str], dict[str, Any]]], groups: list[str], frame: dict[str, Any]
) -> None:
    bucket.append((groups, frame))


def announce(groups: list[str], frame: dict[str, Any]) -> None:
    """Publish `frame` to `groups` once the current transaction commits."""
    bucket = _collector.get()
    if bucket is not None:
        transaction.on_commit(functools.partial(_collect, bucket, groups, frame))
    else:
        transaction.on_commit(functools.partial(publish, groups, frame))


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
    for groups, frame in bucket:
        await publish_async(groups, frame)
