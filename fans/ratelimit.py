"""Per-user send rate limit in the shared cache (Redis when configured), fixed window."""

import time

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache

from shops.errors import RateLimited


def message_rate_check(user_id: int) -> None:
    cfg = settings.FANSI_CHAT
    limit, window_s = cfg["RATE_LIMIT_MESSAGES"], cfg["RATE_LIMIT_WINDOW_S"]
    if limit <= 0:
        return
    key = f"rl:msg:{user_id}:{int(time.time() // window_s)}"
    if isinstance(cache, RedisCache) or isinstance(getattr(cache, "_wrapped", None), RedisCache):
        backend = getattr(cache, "_wrapped", cache)
        redis_key = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(redis_key, write=True).pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_s * 2)
        count, _ = pipe.execute()
        if count > limit:
            raise RateLimited()
        return
    if cache.add(key, 1, timeout=window_s * 2):
        return
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_s * 2)
        return
    if count > limit:
        raise RateLimited()
