"""/healthz and /readyz against the real services: readiness needs PostgreSQL, Redis and a live Celery worker."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


@pytest.mark.services
@pytest.mark.django_db
def test_readyz_is_503_naming_celery_when_no_worker_answers(require_services, client):
    status, body = ready(client)
    assert status == 503, body
    assert body["status"] == "fail"
    assert set(body["checks"]) == {"database", "redis", "celery"}
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["celery"]["ok"] is False and body["checks"]["celery"]["error"]


@pytest.mark.services
@pytest.mark.django_db
def test_readyz_is_200_with_a_real_worker_and_503_once_it_is_gone(require_services, client, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(REDIS_URL=settings.REDIS_URL, FANSI_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--without-gossip"]
    command += ["--without-mingle", "--loglevel", "INFO"]
    with log.open("w") as out:
        worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        status, body = ready(client)
        while status != 200 and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
            status, body = ready(client)
        assert status == 200, (body, log.read_text()[-3000:])
        assert body["status"] == "ok"
        assert {name: check["ok"] for name, check in body["checks"].items()} == {
            "database": True,
            "redis": True,
            "celery": True,
        }
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    status, body = ready(client)
    assert status == 503 and body["checks"]["celery"]["ok"] is False, body


@pytest.mark.services
@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_redis_is_unreachable(require_services, client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False and body["checks"]["redis"]["error"]
