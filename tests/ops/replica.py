"""A real streaming replica of the machine's PostgreSQL for the read-scaling tests (docs/deploy.md): a
pg_basebackup of the primary into a temporary folder, started with the PostgreSQL 15 binaries on a free port
in 5440-5449, stopped and deleted afterwards. No replication slot is made, so the primary keeps nothing."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

PG_BIN = Path(os.environ.get("FANSI_PG_BIN", "/usr/lib/postgresql/15/bin"))
PORTS = range(5440, 5450)
# A hot standby needs these at least as high as on the primary.
MATCHED = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
HBA_LINE = "host replication all 127.0.0.1/32 trust  # fansi: streaming replica for read-scaling tests"


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run, but a timeout kills the whole group (runuser's child too), so nothing keeps writing."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 5440-5449 for the replica")


def replication_allowed(cursor) -> bool:
    cursor.execute(
        "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND error IS NULL "
        "AND 'replication' = ANY(database) "
        "AND (address IS NULL OR address = '127.0.0.1' OR address = '0.0.0.0')"
    )
    return cursor.fetchone()[0] > 0


def ensure_replication_access(cursor) -> None:
    """The primary must let 127.0.0.1 connect for replication; add the pg_hba line and reload if it does not
    (a reload, never a restart). wal_level replica and max_wal_senders > 0 are PostgreSQL's defaults."""
    cursor.execute("SHOW wal_level")
    assert cursor.fetchone()[0] in {"replica", "logical"}, "the primary needs wal_level = replica"
    if replication_allowed(cursor):
        return
    cursor.execute("SHOW hba_file")
    hba = Path(cursor.fetchone()[0])
    with hba.open("a") as fh:
        fh.write(f"\n{HBA_LINE}\n")
    cursor.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    assert replication_allowed(cursor), f"{hba} still has no replication entry for 127.0.0.1"


@contextmanager
def streaming_replica(primary_port: int = 5432) -> Iterator[int]:
    """Yield the port of a hot standby streaming from the primary."""
    conn = connections["default"]
    with conn.cursor() as cursor:
        ensure_replication_access(cursor)
        settings = {}
        for name in MATCHED:
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    folder = Path(tempfile.mkdtemp(prefix="fansi-replica-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    try:
        basebackup = _as_postgres(
            [
                str(PG_BIN / "pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres", "-D", str(data)),
                *("-R", "-X", "stream", "-c", "fast", "--no-sync"),
            ]
        )
        for attempt in range(3):
            # The machine's PostgreSQL is shared: another job terminating backends cuts a backup short.
            # The copy is the whole cluster: seconds in CI, longer beside large benchmark databases.
            done = _run(basebackup, timeout=300)
            if done.returncode == 0:
                break
            shutil.rmtree(data, ignore_errors=True)
            if attempt == 2:
                raise subprocess.CalledProcessError(done.returncode, basebackup, done.stdout, done.stderr)
            time.sleep(1)
        # Debian keeps the primary's configuration in /etc: the copy gets its own, minimal files.
        (data / "postgresql.conf").write_text("")
        (data / "pg_ident.conf").write_text("")
        (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        options = " ".join(
            [
                f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder}",
                "-c hot_standby=on -c fsync=off -c shared_buffers=32MB",
                *(f"-c {name}={value}" for name, value in settings.items()),
            ]
        )
        if os.geteuid() == 0:
            for path in data.iterdir():
                if path.is_file() and path.owner() != "postgres":
                    shutil.chown(path, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w"]
                + ["-t", "90", "start"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield port
    except subprocess.CalledProcessError as exc:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        raise RuntimeError(f"replica failed: {exc.stderr!r} {log[-2000:]}") from exc
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(folder, ignore_errors=True)


def replica_alias_add(port: int) -> None:
    """The "replica" database alias, as settings make it from DATABASE_REPLICA_URL, for the test database."""
    cfg = dict(connections["default"].settings_dict)
    cfg.update(PORT=str(port), TEST={"MIRROR": "default"}, CONN_MAX_AGE=0)
    connections.settings["replica"] = cfg


def replica_alias_remove() -> None:
    if "replica" in connections.settings:
        connections["replica"].close()
        del connections.settings["replica"]
        try:
            delattr(connections._connections, "replica")
        except AttributeError:
            pass


def wait_replayed(timeout: float = 20.0) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    with connections["replica"].cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not catch up")
            time.sleep(0.05)
