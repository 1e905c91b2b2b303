"""Structured logs (core/logs.py, core/request_id.py): JSON lines with the request id, the id returned as a
header and carried into Celery tasks, websocket connection ids, and tokens redacted whoever logs them."""

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from celery import shared_task
from django.conf import settings

from core.logs import ContextFilter, JsonFormatter, RedactFilter, request_id_var
from core.request_id import TASK_HEADER, _publish_request_id
from tests.conftest import ROOT

probe_logger = logging.getLogger("fansi.tests.probe")


@shared_task(name="tests.ops.log_probe")
def log_probe(word: str) -> str:
    probe_logger.warning("probe %s", word)
    return request_id_var.get() or ""


@pytest.fixture
def json_lines():
    """A handler set up as settings.LOGGING sets the console one, on the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    lines.handler = handler
    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_settings_log_json_through_both_filters():
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["formatter"] == "json" and handler["filters"] == ["context", "redact"]
    assert settings.LOGGING["loggers"]["uvicorn.access"]["handlers"] == ["console"]


@pytest.mark.django_db
def test_request_lines_carry_the_request_id_and_the_header_returns_it(client, json_lines):
    response = client.get("/no-such-page/?token=abcdef0123456789", HTTP_X_REQUEST_ID="req-1234abcd")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-1234abcd"
    lines = [line for line in json_lines() if line["logger"] == "django.request"]
    assert lines, json_lines()
    line = lines[0]
    assert {"time", "level", "logger", "message", "request_id", "connection_id"} <= set(line)
    assert line["level"] == "WARNING" and line["request_id"] == "req-1234abcd"
    assert "Not Found" in line["message"]
    assert "abcdef0123456789" not in json.dumps(json_lines())


@pytest.mark.django_db
def test_an_insane_request_id_is_replaced(client):
    for bad in ["x", "a b c d e f g h", "evil\r\nInjected: 1", "<script>alert(1)</script>", "z" * 200]:
        got = client.get("/no-such-page/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert got != bad and len(got) == 32 and got.isalnum()
    first = client.get("/no-such-page/")["X-Request-ID"]
    assert first != client.get("/no-such-page/")["X-Request-ID"]


@pytest.mark.parametrize(
    "message,args,secret",
    [
        ("websocket %s", ("/ws/chat/?token=9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",), "9944b09199c62bcf"),
        ("GET %s", ("/ws/chat/?a=1&token=s3cr3tvalue&b=2",), "s3cr3tvalue"),
        ("headers %r", ({"Authorization": "Token 0123456789abcdef0123"},), "0123456789abcdef"),
        ("HTTP_AUTHORIZATION=%s", ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",), "eyJhbGciOiJIUzI1NiJ9"),
        ('body {"token": "%s"}', ("9944b09199c62bcf9418",), "9944b09199c62bcf9418"),
    ],
)
def test_tokens_are_redacted_from_any_logger(json_lines, message, args, secret):
    logging.getLogger("fansi.chat").warning(message, *args)
    # uvicorn's access line (client, method, full path with the query string, version, status). uvicorn's
    # loggers do not propagate (settings give them the console handler, as asserted above): hand it ours.
    access = logging.getLogger("uvicorn.access")
    access.addHandler(json_lines.handler)
    try:
        access.warning(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/ws/chat/?token={secret}", "1.1", 101
        )
    finally:
        access.removeHandler(json_lines.handler)
    out = json.dumps(json_lines())
    assert secret not in out
    assert out.count("[redacted]") >= 2


def test_an_exception_traceback_is_redacted(json_lines):
    try:
        raise ValueError("bad url /ws/chat/?token=tracebacksecret123")
    except ValueError:
        logging.getLogger("fansi.tests").exception("failed")
    assert "tracebacksecret123" not in json.dumps(json_lines())


def test_the_request_id_goes_into_an_eager_task(json_lines):
    token = request_id_var.set("req-into-task-1")
    try:
        result = log_probe.delay("eager")
    finally:
        request_id_var.reset(token)
    # An eager result never blocks; an earlier test's in-process worker may have left Celery's "inside a task"
    # flag set in this process, which would refuse a plain get().
    assert result.get(disable_sync_subtasks=False) == "req-into-task-1"
    line = next(line for line in json_lines() if line["message"] == "probe eager")
    assert line["request_id"] == "req-into-task-1"
    assert line["task"] == "tests.ops.log_probe" and line["task_id"]
    assert request_id_var.get() is None


def test_the_publish_signal_puts_the_request_id_in_the_message_headers():
    headers: dict = {}
    _publish_request_id(headers=headers)
    assert TASK_HEADER not in headers
    token = request_id_var.set("req-header-1")
    try:
        _publish_request_id(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers[TASK_HEADER] == "req-header-1"


@pytest.mark.services
def test_the_request_id_reaches_a_real_worker(require_services, tmp_path):
    """A task published to Redis from a request context is run by `celery worker`, whose log line carries the
    publisher's request id."""
    queue = f"obs-logs-{uuid.uuid4().hex[:8]}"
    env = {
        k: v for k, v in os.environ.items() if k not in {"CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        FANSI_VAR_DIR=str(tmp_path / "var"),
        FANSI_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.ops.celery_probe", "worker", "-Q", queue, "-c", "1"]
        + ["--pool", "solo", "--without-mingle", "--without-gossip", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        publish = (
            "import django; django.setup(); from core.logs import request_id_var; "
            "request_id_var.set('req-real-worker-7'); from tests.ops.celery_probe import app; "
            f"app.send_task('tests.ops.log_probe', args=['worker'], queue='{queue}')"
        )
        subprocess.run([sys.executable, "-c", publish], cwd=ROOT, env=env, check=True, timeout=60)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(worker.stdout.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        found = None
        while time.monotonic() < deadline and found is None:
            for raw in list(lines):
                if '"probe worker"' in raw:
                    found = json.loads(raw[raw.index("{") :])
            time.sleep(0.2)
        buffer = "".join(lines)
        assert found is not None, buffer[-3000:]
        assert found["request_id"] == "req-real-worker-7"
        assert found["task"] == "tests.ops.log_probe"
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete(queue)
