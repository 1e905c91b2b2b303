"""The Redis cache with one connection pool per process.

Django keeps a cache backend per thread and per async context (django.core.cache.caches is an asgiref Local),
and the stock RedisCache builds a client with its own connection pool for each backend instance. Under an ASGI
server every websocket runs in its own context, so each open socket ended up holding a Redis connection of its
own (measured: 10,000 sockets reached Redis's maxclients and every later publish failed with
MaxClientsReachedError; about 10 kB of server memory per socket went to these pools). Here every backend
instance of a process shares one client, so the process holds at most the pool's busy connections.
"""

import threading
from functools import cached_property
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple[str, ...], RedisCacheClient] = {}
_lock = threading.Lock()


def _options_key(options: dict[str, Any]) -> str:
    return repr(sorted(options.items()))


class SharedRedisCache(RedisCache):
    """django.core.cache.backends.redis.RedisCache whose client (and so its pools) is shared per process."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (*self._servers, _options_key(self._options))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.get(key)
                if client is None:
                    client = self._class(self._servers, **self._options)
                    # Build the pools now, under the lock: RedisCacheClient builds them lazily, unlocked.
                    for write in (True, False):
                        client._get_connection_pool(write)
                    _clients[key] = client
        return client
