"""`manage.py backup_check` (core/backups.py): a dump of the test database restores into a scratch database
with the same row counts; a dump whose counts disagree fails the check; the scratch database is dropped."""

import json
import subprocess
import sys

import pytest
from django.db import connection

from tests.conftest import ROOT
from tests.factories import FanFactory
from tests.servers import test_database_env

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def backup_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "backup_check", *args],
        cwd=ROOT,
        env=test_database_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def scratch_databases() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'fansi_restore_check_%%'")
        return [row[0] for row in cursor.fetchall()]


def test_backup_check_restores_and_compares(require_services, tmp_path, shop):
    FanFactory.create_batch(3, shop=shop)
    before = set(scratch_databases())
    done = backup_check("--dump-now", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True and report["mismatches"] == {}
    assert report["tables"] > 20 and report["rows"] >= 3
    dump = next(tmp_path.glob("*.dump"))
    counts = json.loads(dump.with_name(dump.name + ".counts.json").read_text())["tables"]
    assert counts["public.fans_fan"] >= 3
    assert set(scratch_databases()) == before, "the scratch database is dropped"

    # Later writes do not matter (the counts are the dump's own), but a dump that lost rows does.
    FanFactory.create_batch(2, shop=shop)
    assert backup_check("--dir", str(tmp_path)).returncode == 0
    sidecar = dump.with_name(dump.name + ".counts.json")
    data = json.loads(sidecar.read_text())
    data["tables"]["public.fans_fan"] += 1
    sidecar.write_text(json.dumps(data))
    failed = backup_check("--dir", str(tmp_path))
    assert failed.returncode != 0
    assert "public.fans_fan" in failed.stdout and "tables differ" in failed.stderr
    assert set(scratch_databases()) == before


def test_backup_check_without_a_dump_says_so(require_services, tmp_path):
    done = backup_check("--dir", str(tmp_path / "empty"))
    assert done.returncode != 0 and "no dump" in done.stderr
