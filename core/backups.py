"""Backups (docs/backups.md): a `pg_dump -Fc` with the row count of every table taken in the same snapshot (a
sidecar JSON), and the restore check: the dump restored into a scratch database whose counts must match."""

import datetime as dt
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

DUMP_SUFFIX = ".dump"
COUNTS_SUFFIX = ".counts.json"


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore of the server's major version (FANSI_PG_BIN, else Debian's, else PATH)."""
    for folder in filter(None, [os.environ.get("FANSI_PG_BIN"), "/usr/lib/postgresql/15/bin"]):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: install postgresql-client or set FANSI_PG_BIN")
    return found


def conninfo(db: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {
        "dbname": name or db["NAME"],
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        **({"password": db["PASSWORD"]} if db.get("PASSWORD") else {}),
    }


def _tool_args(info: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if info.get("password"):
        env["PGPASSWORD"] = info["password"]
    return ["-h", info["host"], "-p", info["port"], "-U", info["user"]], env


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    """{schema.table: rows} of every ordinary table outside the system schemas."""
    rows = conn.execute(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
    ).fetchall()
    return {
        f"{schema}.{table}": conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        ).fetchone()[0]
        for schema, table in rows
    }


def dump_now(db: dict[str, Any], folder: Path) -> Path:
    """pg_dump -Fc into folder, and the row counts of the very snapshot it dumped beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{db['NAME']}-{stamp}{DUMP_SUFFIX}"
    info = conninfo(db)
    with psycopg.connect(**info) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = table_counts(conn)
        args, env = _tool_args(info)
        subprocess.run(
            [pg_tool("pg_dump"), *args, "-Fc", f"--snapshot={snapshot}", "-f", str(path), info["dbname"]],
            check=True,
            env=env,
            capture_output=True,
        )
        conn.execute("COMMIT")
    sidecar = {"database": db["NAME"], "dumped_at": stamp, "snapshot": snapshot, "tables": counts}
    Path(f"{path}{COUNTS_SUFFIX}").write_text(json.dumps(sidecar, indent=1, sort_keys=True))
    return path


def latest_dump(folder: Path) -> Path | None:
    dumps = sorted(folder.glob(f"*{DUMP_SUFFIX}"), key=lambda p: p.stat().st_mtime)
    return dumps[-1] if dumps else None


def restore_check(db: dict[str, Any], dump: Path) -> dict[str, Any]:
    """Restore `dump` into a fresh scratch database, count its rows, drop it. Returns the comparison with the
    counts recorded at dump time: {"scratch", "tables", "mismatches": {table: (expected, restored)}}."""
    sidecar = Path(f"{dump}{COUNTS_SUFFIX}")
    if not sidecar.exists():
        raise FileNotFoundError(f"{sidecar} is missing: make dumps with `backup_check --dump-now`")
    expected: dict[str, int] = json.loads(sidecar.read_text())["tables"]
    scratch = f"fansi_restore_check_{uuid.uuid4().hex[:12]}"
    admin = conninfo(db, "postgres")
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    try:
        info = conninfo(db, scratch)
        args, env = _tool_args(info)
        subprocess.run(
            [pg_tool("pg_restore"), *args, "--no-owner", "--exit-on-error", "-d", scratch, str(dump)],
            check=True,
            env=env,
            capture_output=True,
        )
        with psycopg.connect(**info) as conn:
            restored = table_counts(conn)
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    mismatches = {
        table: (expected.get(table), restored.get(table))
        for table in sorted(set(expected) | set(restored))
        if expected.get(table) != restored.get(table)
    }
    return {
        "scratch": scratch,
        "tables": len(expected),
        "rows": sum(expected.values()),
        "mismatches": mismatches,
    }
