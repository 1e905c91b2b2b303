"""Per-user send rate limit in the shared cache (Redis when configured), fixed window."""

import functools
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from shops.errors import RateLimited


@functools.cache
def _redis_client() -> Any:
    """One thread-safe client over the cache's connection pool (building one per call is costly)."""
    backend = caches["default"]
    return backend._cache.get_client(None, write=True)


def _count_redis(key: str, window_s: int) -> int:
    backend = caches["default"]
    redis_key = backend.make_and_validate_key(key)
    pipe = _redis_client().pipeline(transaction=False)
    pipe.incr(redis_key)
    pipe.expire(redis_key, window_s * 2)
    count, _ = pipe.execute()
    return int(count)


def _count_cache(key: str, window_s: int) -> int:
    cache = caches["default"]
    if cache.add(key, 1, timeout=window_s * 2):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_s * 2)
        return 1


def message_rate_check(user_id: int) -> None:
    cfg = settings.FANSI_CHAT
    limit, window_s = cfg["RATE_LIMIT_MESSAGES"], cfg["RATE_LIMIT_WINDOW_S"]
    if limit <= 0:
        return
    key = f"rl:msg:{user_id}:{int(time.time() // window_s)}"
    count = (
        _count_redis(key, window_s)
        if isinstance(caches["default"], RedisCache)
        else _count_cache(key, window_s)
    )
    if count > limit:
        raise RateLimited()
