"""What `manage.py metrics_server` serves: every process's metrics (prometheus_client's multiprocess files)
plus values read at scrape time, such as the Celery queue depth from the broker's Redis lists."""

import logging
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)
# kombu's Redis transport keeps one list per priority step: "celery", "celery\x06\x163", ... (sep \x06\x16).
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


def celery_queues() -> list[str]:
    queues = getattr(settings, "FANSI_METRICS_CELERY_QUEUES", None)
    if queues:
        return list(queues)
    return [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None) or "celery"]


def queue_depths(redis_url: str, queues: list[str]) -> dict[str, int]:
    """{queue: messages waiting}: LLEN of the queue's lists, in one round trip."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
            for step in PRIORITY_STEPS:
                pipe.llen(f"{queue}{PRIORITY_SEP}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    per = 1 + len(PRIORITY_STEPS)
    return {queue: sum(lengths[i * per : (i + 1) * per]) for i, queue in enumerate(queues)}


class CeleryQueueDepthCollector(Collector):
    """fansi_celery_queue_depth{queue}: read from the broker when scraped; absent when the broker is not Redis,
    fansi_celery_broker_up 0 when it does not answer."""

    def collect(self) -> Iterator[Any]:
        broker = getattr(settings, "CELERY_BROKER_URL", "") or ""
        if not broker.startswith(("redis://", "rediss://", "unix://")):
            return
        up = GaugeMetricFamily("fansi_celery_broker_up", "1 when the Celery broker answered the scrape.")
        depth = GaugeMetricFamily(
            "fansi_celery_queue_depth", "Celery messages waiting in the broker, by queue.", labels=["queue"]
        )
        try:
            depths = queue_depths(broker, celery_queues())
        except Exception:  # noqa: BLE001 - a scrape must answer even with the broker down
            logger.warning("celery queue depth not read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for queue, n in depths.items():
            depth.add_metric([queue], n)
        yield up
        yield depth


def metrics_registry() -> CollectorRegistry:
    """Every process's values (PROMETHEUS_MULTIPROC_DIR) or, without it, this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    registry.register(CeleryQueueDepthCollector())
    return registry
