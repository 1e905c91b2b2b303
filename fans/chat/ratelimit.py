"""Per-user send rate limit in the shared cache (Redis when configured), fixed window."""

import functools
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from core.errors import UNAVAILABLE_ERRORS, RateLimited

logger = logging.getLogger(__name__)

# Counts while Redis is down, per process. Failing closed (503) would take chat down with Redis, although the
# message itself only needs the database (clients sync by seq); failing open would drop the guard against a
# runaway script. A per-process count keeps the limit, loosened by the number of processes, for the outage.
_fallback = LocMemCache("fansi-ratelimit-fallback", {"MAX_ENTRIES": 100_000})


@functools.cache
def _redis_client() -> Any:
    """One thread-safe client over the cache's connection pool (building one per call is costly)."""
    backend = caches["default"]
    return backend._cache.get_client(None, write=True)


def _count_redis(keys: list[str], window_s: int) -> list[int]:
    """INCR every key (a key once per send) in one round trip."""
    backend = caches["default"]
    pipe = _redis_client().pipeline(transaction=False)
    for key in keys:
        pipe.incr(backend.make_and_validate_key(key))
    for key in dict.fromkeys(keys):
        pipe.expire(backend.make_and_validate_key(key), window_s * 2)
    return [int(count) for count in pipe.execute()[: len(keys)]]


def _count_cache(key: str, window_s: int, cache: Any = None) -> int:
    cache = cache if cache is not None else caches["default"]
    if cache.add(key, 1, timeout=window_s * 2):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_s * 2)
        return 1


def message_rate_check(user_id: int) -> None:
    if not message_rate_check_many([user_id])[0]:
        raise RateLimited()


def message_rate_refund(user_ids: list[int]) -> None:
    """Give back one send per entry: it turned out to be an idempotent resend, which stores nothing and so
    must not spend the sender's budget (issue 17). Best effort: a refund lost to an outage only tightens."""
    cfg = settings.FANSI_CHAT
    if not user_ids or cfg["RATE_LIMIT_MESSAGES"] <= 0:
        return
    window = int(time.time() // cfg["RATE_LIMIT_WINDOW_S"])
    cache = caches["default"]
    for user_id in user_ids:
        try:
            cache.decr(f"rl:msg:{user_id}:{window}")
        except ValueError:  # the window turned over since the count: nothing to give back
            pass
        except UNAVAILABLE_ERRORS as exc:
            logger.warning("rate limit refund skipped, the cache is down: %r", exc)
            return


def message_rate_check_many(user_ids: list[int]) -> list[bool]:
    """Count one send per entry (a user may repeat) in one Redis round trip; True where it is allowed."""
    cfg = settings.FANSI_CHAT
    limit, window_s = cfg["RATE_LIMIT_MESSAGES"], cfg["RATE_LIMIT_WINDOW_S"]
    if limit <= 0:
        return [True] * len(user_ids)
    window = int(time.time() // window_s)
    keys = [f"rl:msg:{user_id}:{window}" for user_id in user_ids]
    try:
        if isinstance(caches["default"], RedisCache):
            counts = _count_redis(keys, window_s)
        else:
            counts = [_count_cache(key, window_s) for key in keys]
    except UNAVAILABLE_ERRORS as exc:
        logger.warning("rate limit counted in-process, the cache is down: %r", exc)
        counts = [_count_cache(key, window_s, _fallback) for key in keys]
    return [count <= limit for count in counts]
