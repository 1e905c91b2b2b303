"""Pre-order bench: concurrent pledges through the HTTP API, then closing a 100k-pledge campaign.

Setup: resets the bench database (its name must contain "bench"; default fansi_preorders_bench), runs
`manage.py migrate`, seeds an owner, a shop, a factory product and --clients fans with API tokens.

Servers: --servers processes of Django's own WSGI server code with a fixed pool of --workers threads each
(one persistent PostgreSQL connection per worker), started as `python bench/preorders.py --serve PORT`.
The API views are synchronous, so a threaded WSGI server is the plain way to serve them. Connections are
kept alive: an idle connection waits in the server's selector, not in a worker thread, so the 200 client
connections share the few workers (--connection-close opens one connection per request instead, for
comparison). The servers use bench/preorders_server.py as ROOT_URLCONF (shops + preorders API) until
config/urls.py includes preorders.api_urls.

Phase 1 (pledges): --clients asyncio clients (one client process, a keep-alive connection to its server and
one to the next, where its retries go) each place --per-client pledges of 1 unit
on one capped campaign, with an Idempotency-Key each; every 4th request is sent twice (a client retry
after a lost answer). Checks: oversold (committed above the cap, or active quantities differing from the
counter), double_charged (a retried key answered with another pledge, or a pledge with more than one
charge in its ledger). pledges_per_s counts pledges created per second of the phase; p99_ms covers every
request (created, replayed and sold-out answers).

Phase 1b (latency at the target rate): the same clients together offer --offered-rate pledges/s (default
200, the throughput target) for --offered-seconds on a second capped campaign, open loop and evenly spread;
latency counts from each request's scheduled time. p50_ms/p99_ms are this phase's, as bench/chat.py reports
latency at an offered rate; phase 1's closed-loop latencies are full_speed_p50_ms/full_speed_p99_ms (at
saturation every client always waits in the queue, so latency there is clients / throughput). oversold and
double_charged are checked on both campaigns.

Phase 2 (close): a second campaign gets 100,000 pledges from 20,000 fans (users and fans with
bulk_create, pledges and their charge ledger rows with COPY), its deadline passes and campaign_close()
runs in this process: final tier price and balance due for every pledge, fan spend, and the factory
order roll-up. It is run again and must create nothing new. Fan notifications are a separate task
(campaign_notify, 200 fans per batch); its rate is measured on the phase-1 campaign's fans.

This file runs the phases and writes the results; the servers are in bench/preorders_server.py, the clients
in bench/preorders_load.py, the seeding in bench/preorders_seed.py and the checks in bench/preorders_checks.py.

Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/fansi_preorders_bench), REDIS_URL.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import CpuMeter, free_port, machine_info, percentile, print_machine, write_results  # noqa: E402
from bench.preorders_checks import check_pledges, state_counts  # noqa: E402
from bench.preorders_load import http_post, run_load, run_offered  # noqa: E402
from bench.preorders_seed import campaign_for_offered, in_seconds, seed, seed_big_campaign  # noqa: E402
from bench.preorders_server import serve  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_preorders_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
TARGETS = {"oversold": 0, "double_charged": 0, "pledges_per_s": 200, "p99_ms": 250.0, "close_100k_s": 30.0}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- main ----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument(
        "--workers", type=int, default=4, help="worker threads (and DB connections) per server"
    )
    parser.add_argument(
        "--connection-close",
        action="store_true",
        help="a new connection per request (Connection: close) instead of keep-alive",
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--per-client", type=int, default=6)
    parser.add_argument(
        "--offered-rate", type=float, default=200.0, help="pledges/s offered in the open-loop phase"
    )
    parser.add_argument("--offered-seconds", type=float, default=10.0)
    parser.add_argument("--close-pledges", type=int, default=100_000)
    parser.add_argument("--close-fans", type=int, default=20_000)
    args = parser.parse_args()

    database_url = os.environ.get("FANSI_BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="0",
        PYTHONUNBUFFERED="1",
        CELERY_TASK_ALWAYS_EAGER="1",
    )
    env.setdefault("FANSI_CHANNEL_PREFIX", "fansi_preorders_bench")
    env.setdefault("FANSI_CACHE_PREFIX", "fansi_preorders_bench")
    os.environ.update(env)
    if args.serve:
        serve(args.serve, args.workers)
        return

    from bench.chat import manage
    from bench.common import reset_database

    machine = machine_info(database_url=database_url, redis_url=redis_url)
    print_machine(machine)
    cap = args.clients * args.per_client - args.clients // 2  # the last few requests find it sold out
    log(f"resetting {urlparse(database_url).path.lstrip('/')} and migrating")
    reset_database(database_url)
    manage(["migrate", "--noinput", "-v", "0"], env, timeout=300)
    import django

    django.setup()
    cast = seed(args.clients, cap)
    log(f"seeded {args.clients} fans; campaign {cast['campaign']} cap {cap}")

    procs: list[subprocess.Popen] = []
    ports: list[int] = []
    workdir = Path(tempfile.mkdtemp(prefix="fansi-preorders-bench-"))
    try:
        for i in range(args.servers):
            port = free_port()
            out = open(workdir / f"server-{i}.log", "w")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--serve",
                        str(port),
                        "--workers",
                        str(args.workers),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
            ports.append(port)
        import socket

        deadline = time.monotonic() + 60
        for port, proc in zip(ports, procs, strict=True):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {(workdir / 'server-0.log').read_text()[-2000:]}")
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError("server did not start")
                time.sleep(0.1)

        # Warm each server (imports, URL resolver, DB connections) outside the timings.
        async def warm() -> None:
            await asyncio.gather(
                *(
                    http_post(
                        p,
                        f"/api/campaigns/{cast['campaign']}/pledges/",
                        b"{}",
                        {"Authorization": f"Token {cast['tokens'][0]}"},
                    )
                    for p in ports
                    for _ in range(args.workers)
                )
            )

        asyncio.run(asyncio.wait_for(warm(), 60))
        meter = CpuMeter({f"server{i}": p.pid for i, p in enumerate(procs)}, {"postgres": ("postgres",)})
        before = meter.snapshot()
        load_avg_before = [round(x, 2) for x in os.getloadavg()]
        log(f"phase 1: {args.clients} clients x {args.per_client} pledges over {args.servers} servers")
        load = asyncio.run(run_load(ports, cast, args.per_client, keep_alive=not args.connection_close))
        cpu = CpuMeter.percent(before, meter.snapshot())
        offered_total = round(args.offered_rate * args.offered_seconds)
        offered_cap = offered_total - args.clients // 2  # the last few find it sold out here too
        offered_campaign = campaign_for_offered(cast, offered_cap)
        log(
            f"phase 1b: {args.clients} clients offering {args.offered_rate:g} pledges/s for {args.offered_seconds:g} s"
        )
        before = meter.snapshot()
        offered = asyncio.run(
            run_offered(ports, cast, offered_campaign, args.offered_rate, args.offered_seconds)
        )
        offered_cpu = CpuMeter.percent(before, meter.snapshot())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    checks = check_pledges(cast, load, cap)
    offered_checks = check_pledges(cast, offered, offered_cap, offered_campaign)
    new_pledges = len({c["id"] for c in load["created"]})
    offered_pledges = len({c["id"] for c in offered["created"]})
    pledge_figures = {
        "pledges_per_s": round(new_pledges / load["wall"], 1),
        # Latency at the target throughput offered (as bench/chat.py does); full speed is saturation, where
        # every client always waits in the queue and latency is clients / throughput.
        "p50_ms": round(percentile(offered["latencies"], 50) or 0, 1),
        "p99_ms": round(percentile(offered["latencies"], 99) or 0, 1),
        "offered": {
            "rate_per_s": args.offered_rate,
            "seconds": args.offered_seconds,
            "clients": args.clients,
            "per_client": offered["per_client"],
            "pledges_created": offered_pledges,
            "achieved_pledges_per_s": round(offered_pledges / offered["wall"], 1),
            "max_ms": round(max(offered["latencies"] or [0]), 1),
            "client_send_lag_p99_ms": offered["send_lag_p99_ms"],
            "statuses": {str(k): v for k, v in sorted(offered["statuses"].items())},
            "transport_errors": dict(offered["errors"]),
            "cpu_percent": offered_cpu,
            "oversold": offered_checks["oversold"],
            "double_charged": offered_checks["double_charged"],
            "committed_quantity": offered_checks["committed_quantity"],
            "cap": offered_cap,
        },
        "requests_per_s": round(len(load["latencies"]) / load["wall"], 1),
        "full_speed_p50_ms": round(percentile(load["latencies"], 50) or 0, 1),
        "full_speed_p99_ms": round(percentile(load["latencies"], 99) or 0, 1),
        "max_ms": round(max(load["latencies"] or [0]), 1),
        "statuses": {str(k): v for k, v in sorted(load["statuses"].items())},
        "transport_errors": dict(load["errors"]),
        "pledges_created": new_pledges,
        "wall_s": round(load["wall"], 2),
        "cpu_percent": cpu,
        "load_average_before": load_avg_before,
        **checks,
    }
    log(f"pledges: {json.dumps(pledge_figures, ensure_ascii=False)}")

    # Notification rate: close the phase-1 campaign and tell its fans (system message + card each).
    from preorders.models import Campaign
    from preorders.services import campaign_close, campaign_notify

    Campaign.objects.filter(pk=cast["campaign"]).update(deadline=in_seconds(-1))
    campaign_close(campaign_id=cast["campaign"], notify=False)
    t0 = time.monotonic()
    while campaign_notify(campaign_id=cast["campaign"], batch=200) > 0:
        pass
    notify_s = time.monotonic() - t0

    log(f"phase 2: seeding {args.close_pledges} pledges from {args.close_fans} fans")
    t0 = time.monotonic()
    big = seed_big_campaign(cast, args.close_pledges, args.close_fans)
    seed_s = time.monotonic() - t0
    load_avg_close = [round(x, 2) for x in os.getloadavg()]
    t0 = time.monotonic()
    status = campaign_close(campaign_id=big, notify=False)
    close_s = time.monotonic() - t0
    first = state_counts(big)
    t0 = time.monotonic()
    campaign_close(campaign_id=big, notify=False)
    close_again_s = time.monotonic() - t0
    second = state_counts(big)
    close_figures = {
        "close_100k_s": round(close_s, 2),
        "close_status": status,
        "close_pledges": args.close_pledges,
        "close_fans": args.close_fans,
        "seed_s": round(seed_s, 2),
        "close_again_s": round(close_again_s, 3),
        "close_again_created_nothing": first == second,
        "close_pledge_statuses": first["pledges"],
        "factory_order_lines": [list(map(str, line)) for line in first["lines"]],
        "notify_fans": args.clients,
        "notify_fans_per_s": round(args.clients / notify_s, 1) if notify_s else None,
        "load_average_close": load_avg_close,
    }
    log(f"close: {json.dumps(close_figures, ensure_ascii=False)}")
    figures = {**pledge_figures, **close_figures}
    passed = {
        "oversold": figures["oversold"] == 0 and figures["offered"]["oversold"] == 0,
        "double_charged": figures["double_charged"] == 0 and figures["offered"]["double_charged"] == 0,
        "pledges_per_s": figures["pledges_per_s"] >= TARGETS["pledges_per_s"],
        "p99_ms": figures["p99_ms"] <= TARGETS["p99_ms"],
        "close_100k_s": figures["close_100k_s"] <= TARGETS["close_100k_s"],
        "close_again_created_nothing": figures["close_again_created_nothing"],
    }
    machine["load_average"] = [round(x, 2) for x in os.getloadavg()]
    target = write_results(
        "preorders",
        machine,
        {
            "setup": {
                "servers": args.servers,
                "workers": args.workers,
                "clients": args.clients,
                "per_client": args.per_client,
                "server": "Django WSGI server code, fixed thread pool per process, idle keep-alive sockets in a selector",
                "keep_alive": not args.connection_close,
            },
            "targets": TARGETS,
            "passed": passed,
            **figures,
        },
    )
    log(f"wrote {target}; passed: {passed}")


if __name__ == "__main__":
    main()
