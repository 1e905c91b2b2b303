"""Per-user send rate limit in the shared cache (Redis when configured), fixed window."""

import time

from django.conf import settings
from django.core.cache import cache

from shops.errors import RateLimited


def message_rate_check(user_id: int) -> None:
    cfg = settings.FANSI_CHAT
    limit, window_s = cfg["RATE_LIMIT_MESSAGES"], cfg["RATE_LIMIT_WINDOW_S"]
    if limit <= 0:
        return
    key = f"rl:msg:{user_id}:{int(time.time() // window_s)}"
    if cache.add(key, 1, timeout=window_s * 2):
        return
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_s * 2)
        return
    if count > limit:
        raise RateLimited()
