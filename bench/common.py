"""What every bench records: the machine it ran on, and its figures written atomically as JSON.

Numbers from a shared or busy machine mean little on their own, so each result file carries the cores,
memory, CPU model, Python, PostgreSQL and Redis versions and the git commit next to the figures.
"""

import datetime as dt
import json
import os
import platform
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _run(args: list[str], timeout: float = 5.0) -> str:
    try:
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def postgres_version(database_url: str) -> str:
    if not database_url.startswith(("postgres://", "postgresql://")):
        return ""
    try:
        import psycopg

        with psycopg.connect(database_url, connect_timeout=5) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - the record is informative; a missing version must not stop a bench
        return ""


def redis_version(redis_url: str) -> str:
    if not redis_url:
        return ""
    parsed = urlparse(redis_url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=5) as s:
            s.sendall(b"INFO server\r\n")
            data = b""
            while b"redis_version:" not in data or not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        for line in data.decode("latin-1").splitlines():
            if line.startswith("redis_version:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine_info(*, database_url: str = "", redis_url: str = "") -> dict[str, Any]:
    commit = _run(["git", "rev-parse", "HEAD"])
    dirty = bool(_run(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {
        "hostname": platform.node(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "cpu_model": _cpu_model(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgres_version(database_url),
        "redis": redis_version(redis_url),
        "git_commit": commit,
        "git_dirty": dirty,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def print_machine(machine: dict[str, Any]) -> None:
    print("machine:")
    for key, value in machine.items():
        print(f"  {key:14} {value}")


def write_results(name: str, machine: dict[str, Any], figures: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json atomically: a reader never sees half a file."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"{name}.json"
    document = {"machine": machine, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **figures}
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".json", dir=RESULTS_DIR)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, ensure_ascii=False, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (no interpolation), so p99 is a latency some message really had."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CpuMeter:
    """CPU seconds used by given pids and by named system processes (postgres, redis) over an interval.

    The named processes are shared with anything else on the machine, so their figure is an upper bound.
    """

    def __init__(self, pids: dict[str, int], names: dict[str, tuple[str, ...]]) -> None:
        self.pids = pids
        self.names = names
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _proc_cpu(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick

    def _named_cpu(self) -> dict[str, float]:
        totals = dict.fromkeys(self.names, 0.0)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            for label, prefixes in self.names.items():
                if comm.startswith(prefixes):
                    totals[label] += self._proc_cpu(int(entry.name))
        return totals

    @staticmethod
    def _machine_busy() -> tuple[float, float]:
        try:
            parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except OSError:
            return 0.0, 0.0
        idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
        return float(sum(parts) - idle), float(sum(parts))

    def snapshot(self) -> dict[str, Any]:
        import time

        return {
            "t": time.monotonic(),
            "self": time.process_time(),
            "pids": {label: self._proc_cpu(pid) for label, pid in self.pids.items()},
            "named": self._named_cpu(),
            "machine": self._machine_busy(),
        }

    @staticmethod
    def percent(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
        """Percent of one core per process group (200 = two cores busy), plus the whole machine's busy %."""
        wall = max(end["t"] - start["t"], 1e-9)
        busy = end["machine"][0] - start["machine"][0]
        total = end["machine"][1] - start["machine"][1]
        return {
            "client": round(100 * (end["self"] - start["self"]) / wall, 1),
            **{k: round(100 * (end["pids"][k] - start["pids"][k]) / wall, 1) for k in end["pids"]},
            **{k: round(100 * (end["named"][k] - start["named"][k]) / wall, 1) for k in end["named"]},
            "machine_busy_pct": round(100 * busy / total, 1) if total else None,
            "wall_s": round(wall, 2),
        }


def reset_database(database_url: str) -> None:
    """Drop and create a bench database; refuses any database whose name does not contain "bench"."""
    from urllib.parse import urlparse

    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to reset database {name!r}: its name must contain 'bench'")
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
