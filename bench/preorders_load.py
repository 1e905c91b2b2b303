"""bench/preorders.py's clients: keep-alive HTTP/1.1 connections and the two load phases (closed loop at
full speed, and open loop at an offered rate, latency counted from each request's scheduled time)."""

import asyncio
import json
import time
from collections import Counter
from typing import Any

from bench.common import percentile

# --- load ----------------------------------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection (one request at a time); reconnects when the server closes it."""

    def __init__(self, port: int, *, keep_alive: bool = True) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path_: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            connection = "keep-alive" if self.keep_alive else "close"
            try:
                self.writer.write(
                    (
                        f"POST {path_} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: {connection}\r\n{head}\r\n"
                    ).encode()
                    + body
                )
                await self.writer.drain()
                raw_head = await self.reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError):
                self.close()
                if fresh or attempt:
                    raise
                continue  # the server closed an idle connection before our request: send it again
            lines = raw_head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            fields = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            if "content-length" in fields:
                payload = await self.reader.readexactly(int(fields["content-length"]))
            else:
                payload = await self.reader.read()
            if (
                not self.keep_alive
                or fields.get("connection", "").lower() == "close"
                or "content-length" not in fields
            ):
                self.close()
            return status, payload
        raise ConnectionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def http_post(port: int, path_: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request on a fresh connection, closed after the answer."""
    return await HttpConnection(port, keep_alive=False).post(path_, body, headers)


async def run_load(
    ports: list[int], cast: dict[str, Any], per_client: int, *, keep_alive: bool
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    created: list[dict[str, Any]] = []
    retry_pairs: list[tuple[int, int, dict, dict]] = []
    errors: Counter = Counter()
    url = f"/api/campaigns/{cast['campaign']}/pledges/"
    body = json.dumps({"variant": cast["variant"], "quantity": 1}).encode()

    async def one(conn: HttpConnection, token: str, key: str) -> tuple[int, dict]:
        start = time.monotonic()
        try:
            status, raw = await conn.post(
                url, body, {"Authorization": f"Token {token}", "Idempotency-Key": key}
            )
        except (OSError, asyncio.IncompleteReadError) as exc:
            errors[type(exc).__name__] += 1
            return 0, {}
        latencies.append((time.monotonic() - start) * 1000)
        statuses[status] += 1
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, {}

    async def client(i: int, token: str) -> None:
        # Each client keeps a connection to its server and one to the next, where its retries land.
        home = HttpConnection(ports[i % len(ports)], keep_alive=keep_alive)
        other = HttpConnection(ports[(i + 1) % len(ports)], keep_alive=keep_alive)
        try:
            for j in range(per_client):
                key = f"c{i}-r{j}"
                status, out = await one(home, token, key)
                if status == 201:
                    created.append(out)
                if j % 4 == 0:  # the answer "got lost": retry with the same key
                    status2, out2 = await one(other, token, key)
                    retry_pairs.append((status, status2, out, out2))
        finally:
            home.close()
            other.close()

    start = time.monotonic()
    await asyncio.gather(*(client(i, t) for i, t in enumerate(cast["tokens"])))
    wall = time.monotonic() - start
    return {
        "latencies": latencies,
        "statuses": statuses,
        "created": created,
        "retry_pairs": retry_pairs,
        "errors": errors,
        "wall": wall,
    }


async def run_offered(
    ports: list[int], cast: dict[str, Any], campaign_id: int, rate: float, duration: float
) -> dict[str, Any]:
    """Open loop: the same clients together offer `rate` pledges/s for `duration` s, evenly spread (client i
    sends at t0 + (i + n*clients)/rate). Latency counts from the scheduled send time, so a request that waits
    for its client's previous answer is charged the wait (no coordinated omission)."""
    tokens = cast["tokens"]
    clients = len(tokens)
    per_client = max(1, round(rate * duration / clients))
    url = f"/api/campaigns/{campaign_id}/pledges/"
    body = json.dumps({"variant": cast["variant"], "quantity": 1}).encode()
    latencies: list[float] = []
    statuses: Counter = Counter()
    created: list[dict[str, Any]] = []
    errors: Counter = Counter()
    lag: list[float] = []
    t0 = time.monotonic() + 0.5

    async def client(i: int, token: str) -> None:
        conn = HttpConnection(ports[i % len(ports)])
        try:
            for n in range(per_client):
                due = t0 + (i + n * clients) / rate
                now = time.monotonic()
                if due > now:
                    await asyncio.sleep(due - now)
                lag.append(max(0.0, time.monotonic() - due) * 1000)
                try:
                    status, raw = await conn.post(
                        url, body, {"Authorization": f"Token {token}", "Idempotency-Key": f"o{i}-{n}"}
                    )
                except (OSError, asyncio.IncompleteReadError) as exc:
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append((time.monotonic() - due) * 1000)
                statuses[status] += 1
                if status == 201:
                    created.append(json.loads(raw))
        finally:
            conn.close()

    await asyncio.gather(*(client(i, t) for i, t in enumerate(tokens)))
    wall = time.monotonic() - t0
    return {
        "latencies": latencies,
        "statuses": statuses,
        "created": created,
        "retry_pairs": [],
        "errors": errors,
        "wall": wall,
        "per_client": per_client,
        "send_lag_p99_ms": round(percentile(lag, 99) or 0, 1),
    }
