"""Who is online: a counter of open sockets per user in the shared cache (Redis when configured)."""

from typing import Any

from django.core.cache import cache

from core.errors import UNAVAILABLE_ERRORS
from core.events import shop_group
from fans.chat.models import Fan

TTL_S = 3600


def _key(user_id: int) -> str:
    return f"presence:user:{user_id}"


def presence_connect(user_id: int) -> bool:
    """Count one more socket; True when it is the user's first (they just came online)."""
    if cache.add(_key(user_id), 1, timeout=TTL_S):
        return True
    try:
        count = cache.incr(_key(user_id))
        cache.touch(_key(user_id), TTL_S)
    except ValueError:
        return cache.add(_key(user_id), 1, timeout=TTL_S)
    return count <= 1


def presence_disconnect(user_id: int) -> bool:
    """Count one socket less; True when it was the user's last (they went offline)."""
    try:
        if cache.decr(_key(user_id)) <= 0:
            cache.delete(_key(user_id))
            return True
    except ValueError:
        pass
    return False


def presence_frames(user_id: int, online: bool) -> list[tuple[list[str], dict[str, Any]]]:
    """A fan came online or went offline: tell the shops they follow (the inbox shows it under their
    name). Staff are not told about each other, nor a fan about the shop."""
    shop_ids = list(Fan.objects.filter(user_id=user_id).values_list("shop_id", flat=True))
    if not shop_ids:
        return []
    frame = {"type": "presence", "user": user_id, "online": online}
    return [([shop_group(s) for s in shop_ids], frame)]


def online_user_ids(user_ids: list[int]) -> set[int]:
    """Who of these has a socket open. With Redis down, nobody: its channel layer cannot reach them either, and
    what this decides (a live push, the bot's away message) is best effort; clients sync by seq."""
    if not user_ids:
        return set()
    try:
        values = cache.get_many([_key(u) for u in user_ids])
    except UNAVAILABLE_ERRORS:
        return set()
    return {u for u in user_ids if (values.get(_key(u)) or 0) > 0}
