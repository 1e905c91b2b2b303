"""Prometheus metrics (core/metrics.py): the project's counters move on the real paths, /metrics is not on the
public site, and `manage.py metrics_server` serves every process's values in the text format."""

import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from prometheus_client import REGISTRY

from fans.bot.models import BotSettings
from tests.conftest import ROOT
from tests.factories import FanFactory
from tests.fans.chat.test_consumer import ready, receive_type, text_frame
from tests.servers import free_port, wait_for_port


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_public_site_does_not_serve_metrics(client):
    for path in ("/metrics", "/metrics/", "/api/metrics/"):
        assert client.get(path).status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_a_message_over_the_websocket_moves_the_counters(shop, fan):
    await sync_to_async(BotSettings.objects.update_or_create)(shop=shop, defaults={"enabled": False})
    conversation_id = await sync_to_async(lambda: fan.conversation.pk)()
    persisted = sample("fansi_messages_persisted_total", kind="text", side="fan")
    opened = sample("fansi_websocket_connections_opened_total")
    comm = await ready(fan.user)
    assert sample("fansi_websocket_connections_opened_total") == opened + 1
    open_now = sample("fansi_websocket_connections")
    await comm.send_json_to(text_frame(conversation_id, "在吗"))
    await receive_type(comm, "message.ack")
    assert sample("fansi_messages_persisted_total", kind="text", side="fan") == persisted + 1
    await comm.disconnect()
    assert sample("fansi_websocket_connections") == open_now - 1


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_moves_the_sends_counter(api_for, shop, owner):
    BotSettings.objects.create(shop=shop, quiet_start="00:00", quiet_end="00:00", promo_per_day=5)
    fans = [FanFactory(shop=shop) for _ in range(3)]
    before = sample("fansi_broadcast_sends_total")
    response = api_for(owner).post(
        "/api/broadcasts/",
        {"shop": shop.pk, "kind": "text", "text": "上新", "fan_ids": [f.pk for f in fans]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert sample("fansi_broadcast_sends_total") == before + 3


@pytest.mark.services
def test_metrics_server_adds_up_processes_and_reads_queue_depth(require_services, tmp_path):
    """Two processes count into one PROMETHEUS_MULTIPROC_DIR; the internal server sums them, and reads the
    depth of a Celery queue from Redis at scrape time."""
    queue = f"obs-test-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.rpush(queue, "a", "b", "c")
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "FANSI_METRICS_CELERY_QUEUES": f"celery,{queue}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONUNBUFFERED": "1",
    }
    count = (
        "import django; django.setup(); from core import metrics; "
        "metrics.pledge_placed(); metrics.websocket_opened()"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=ROOT, env=env, check=True, timeout=60)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "metrics_server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, server)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            content_type = response.headers["Content-Type"]
            text = response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)
        broker.delete(queue)
    assert content_type.startswith("text/plain")
    assert (
        "# TYPE fansi_pledges_placed_total counter" in text or "# TYPE fansi_pledges_placed counter" in text
    )
    assert "fansi_pledges_placed_total 2.0" in text
    assert f'fansi_celery_queue_depth{{queue="{queue}"}} 3.0' in text
    assert "fansi_celery_broker_up 1.0" in text
    # The two counting processes have exited: their share of the live gauge is gone (mark_process_dead).
    assert "fansi_websocket_connections 0.0" in text or "fansi_websocket_connections " not in text
    time.sleep(0)
