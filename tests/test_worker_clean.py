"""`celery -A config worker -B` against Redis leaves the checkout as it found it: beat's schedule goes to var/."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import git

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.services


def checkout_state() -> tuple[list[str], str]:
    """The top-level entries (git-ignored ones too) and `git status`, to compare before and after."""
    status = git("status", "--porcelain", "--untracked-files=all").stdout
    return sorted(os.listdir(ROOT)), status


def schedule_files(folder: Path) -> list[Path]:
    return list(folder.glob("celerybeat-schedule*"))


def test_worker_with_beat_writes_its_schedule_to_var_only(require_services, tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(
        REDIS_URL=settings.REDIS_URL,
        FANSI_VAR_DIR=str(var),
        FANSI_SQLITE_PATH=str(tmp_path / "worker.sqlite3"),
        PYTHONUNBUFFERED="1",
    )
    before = checkout_state()
    log = tmp_path / "worker.log"
    # A queue of its own: this worker must not take tasks meant for anyone else on this Redis.
    queue = f"worker-clean-{uuid.uuid4().hex}"
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "-Q", queue]
    command += ["--pool", "solo", "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
    with log.open("w") as out:
        worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        # Wherever beat puts its schedule: var/ once fixed, the checkout itself before (issue 11).
        while not (schedule_files(var) or schedule_files(ROOT)) and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        time.sleep(1)  # beat's first tick and sync
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        after = checkout_state()
        for name in set(after[0]) - set(before[0]):
            # What an unfixed worker left behind; the checkout is put back whatever the result.
            if name.startswith("celerybeat-schedule"):
                (ROOT / name).unlink()
    assert after == before, log.read_text()[-3000:]
    assert schedule_files(var), log.read_text()[-3000:]
