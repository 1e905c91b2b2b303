"""/healthz (liveness: the process answers, touching nothing) and /readyz (readiness: PostgreSQL, Redis and a
Celery worker's ping reply, through django-health-check), for load balancers, systemd and the deploy smoke.

/readyz answers 200 only when every check passes, else 503, and its JSON names each check:
    {"status": "ok", "checks": {"database": {"ok": true, "ms": 1.9}, "redis": {...}, "celery": {...}}}
"""

import datetime as dt

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from health_check.checks import Database
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView


def redis_client():
    from redis.asyncio import Redis as RedisClient

    # The one Redis the cache, the channel layer and the Celery broker share (config/settings/base.py).
    return RedisClient.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


class CeleryPing(Ping):
    """A real worker's reply to `ping` within the timeout; returns at the first reply."""

    def __repr__(self) -> str:
        return "celery"


class ReadyDatabase(Database):
    def __repr__(self) -> str:
        return "database"


class ReadyRedis(Redis):
    def __repr__(self) -> str:
        return "redis"


def ready_checks() -> list:
    timeout = dt.timedelta(seconds=getattr(settings, "FANSI_READYZ_CELERY_TIMEOUT_S", 2.0))
    checks = [ReadyDatabase()]
    if getattr(settings, "REDIS_URL", ""):
        checks.append(ReadyRedis(client_factory=redis_client))
    checks.append(CeleryPing(timeout=timeout, limit=1))
    return checks


class ReadyView(HealthCheckView):
    """django-health-check's runner, answered as JSON with 503 (not its 500) when a check fails."""

    def get_checks(self):
        return ready_checks()

    async def get(self, request, *args, **kwargs):
        import asyncio

        with self.get_executor() as executor:
            results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        checks = {}
        for result in results:
            entry = {"ok": result.error is None, "ms": round(result.time_taken * 1000, 1)}
            if result.error is not None:
                entry["error"] = str(result.error)
            checks[repr(result.check)] = entry
        if not getattr(settings, "REDIS_URL", ""):
            checks["redis"] = {"ok": False, "error": "REDIS_URL is not set (embedded mode)"}
        ok = all(entry["ok"] for entry in checks.values())
        return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503)


@never_cache
def healthz(request):
    """Liveness: no database, no Redis; a process that can answer this is alive."""
    return JsonResponse({"status": "ok"})


readyz = ReadyView.as_view()
