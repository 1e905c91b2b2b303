"""Real Daphne server processes for browser and scale-out tests.

They run against the test database (pytest-django's), so tests using them need
`transactional_db` (data must be committed to be seen by another process).
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_env() -> dict[str, str]:
    """Environment that points a child process at the database this test run uses."""
    env = dict(os.environ)
    db = connection.settings_dict
    if "postgresql" in db["ENGINE"]:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env.pop("DATABASE_URL", None)
        env["FANSI_SQLITE_PATH"] = str(db["NAME"])
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    env["FANSI_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited early with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"server on port {port} did not start")


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds; reaped either way."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def daphne_server(env: dict[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """Start `daphne config.asgi:application`; yields its base URL, e.g. http://127.0.0.1:PORT."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env or test_database_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        if os.environ.get("FANSI_SERVER_LOG"):
            print(proc.stdout.read() if proc.stdout else "")
