"""Who is online: a counter of open sockets per user in the shared cache (Redis when configured)."""

from django.core.cache import cache

from core.errors import UNAVAILABLE_ERRORS

TTL_S = 3600


def _key(user_id: int) -> str:
    return f"presence:user:{user_id}"


def presence_connect(user_id: int) -> None:
    if not cache.add(_key(user_id), 1, timeout=TTL_S):
        try:
            cache.incr(_key(user_id))
            cache.touch(_key(user_id), TTL_S)
        except ValueError:
            cache.add(_key(user_id), 1, timeout=TTL_S)


def presence_disconnect(user_id: int) -> None:
    try:
        if cache.decr(_key(user_id)) <= 0:
            cache.delete(_key(user_id))
    except ValueError:
        pass


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
