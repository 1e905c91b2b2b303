"""Broadcast bench (`make bench`): persist one promotional broadcast to 100,000 fans under the attention
budget, with online recipients receiving it live.

Setup: resets the bench database (name must contain "bench"), migrates, seeds one shop of --fans fans with
`bench/seed_scale.py`, marks 10% of fans as already promoted today (so the budget must skip them) and 5% as
opted out, turns quiet hours off for the shop (so the figures do not depend on the time of day), starts one
Daphne process and connects --online fan sockets. Then it runs the broadcast job in-process (the Celery task
body, as a worker would) and measures:
  broadcast_100k_s      wall time of the whole job (target <= 60 s)
  over_budget_sent      fans who got more promotions today than the cap allows (must be 0)
  live_delivery_p99_ms  message stored (created_at) -> message.new at an online fan's socket
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.chat import manage, seed_scale_run, start_servers, stop_servers  # noqa: E402
from bench.common import (  # noqa: E402
    machine_info,
    percentile,
    print_machine,
    reset_database,  # noqa: E402
    write_results,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_broadcast_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SLUG = "bcast"


def log(msg: str) -> None:
    print(f"[broadcast {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fans", type=int, default=100_000)
    parser.add_argument("--online", type=int, default=200)
    parser.add_argument("--skip-setup", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.setdefault("FANSI_CHANNEL_PREFIX", "fansi_bcast")
    env.setdefault("FANSI_CACHE_PREFIX", "fansi_bcast")
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.update(env)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"  # this process plays the Celery worker

    machine = machine_info(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"])
    print_machine(machine)
    if not args.skip_setup:
        log("resetting and migrating the bench database")
        reset_database(env["DATABASE_URL"])
        manage(["migrate", "--noinput"], env, timeout=600)
        log(f"seeding {args.fans} fans")
        seed_scale_run(["--fans", str(args.fans), "--shop-slug", SLUG, "--tags", "60"], env, timeout=900)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from fans.bot import services as bot
    from fans.bot.models import Broadcast
    from fans.chat.models import Fan
    from shops.models import Shop, ShopMember

    shop = Shop.objects.get(slug=SLUG)
    member = ShopMember.objects.get(shop=shop, user=shop.owner)
    fan_ids, promoted = budget_shop_prepare(shop)
    eligible = [f for f in fan_ids if f % 10 != 3 and f % 20 != 0]
    online = random.Random(0).sample(eligible, min(args.online, len(eligible)))
    online_users = dict(Fan.objects.filter(pk__in=online).values_list("pk", "user_id"))
    tokens = []
    user_model = get_user_model()
    for user in user_model.objects.filter(pk__in=online_users.values()):
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    cache.clear()

    workdir = Path(tempfile.mkdtemp(prefix="fansi-bcast-"))
    servers = start_servers(1, env, workdir, profile=False)
    log(f"server on port {servers[0].port}; connecting {len(tokens)} online fans")
    try:
        result = asyncio.run(run(servers[0].ws, tokens, shop, member, bot))
    finally:
        stop_servers(servers)

    broadcast = Broadcast.objects.get(pk=result["broadcast"])
    stats = bot.broadcast_stats(broadcast)
    day_start, _week, _t = bot.budget_windows(shop, timezone.now())
    with connection.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM (SELECT fan_id FROM fans_promodelivery WHERE status = 'sent' AND created_at >= %s "
            "AND fan_id IN (SELECT id FROM fans_fan WHERE shop_id = %s) GROUP BY fan_id HAVING COUNT(*) > 1) t",
            [day_start, shop.pk],
        )
        over_budget_sent = cur.fetchone()[0]
        cur.execute(
            "SELECT COUNT(*) FROM fans_message m JOIN fans_conversation c ON c.id = m.conversation_id "
            "WHERE c.shop_id = %s AND m.text = %s",
            [shop.pk, result["text"]],
        )
        messages_stored = cur.fetchone()[0]
    latencies = result["latencies_ms"]
    figures = {
        "fans": len(fan_ids),
        "broadcast_100k_s": round(result["elapsed_s"], 2),
        "over_budget_sent": over_budget_sent,
        "live_delivery_p50_ms": percentile(latencies, 50),
        "live_delivery_p99_ms": percentile(latencies, 99),
        "online_fans": len(tokens),
        "online_received": len(latencies),
        "stats": {
            k: stats[k]
            for k in ("queued", "sent", "skipped_budget", "skipped_opt_out", "skipped_quiet", "read")
        },
        "messages_stored": messages_stored,
        "expected_skipped_budget": len(promoted),
        "expected_skipped_opt_out": sum(1 for f in fan_ids if f % 20 == 0),
        "targets": {"broadcast_100k_s": 60, "over_budget_sent": 0},
        "pass": {
            "broadcast_100k_s": result["elapsed_s"] <= 60,
            "over_budget_sent": over_budget_sent == 0,
            "every_online_fan_received": len(latencies) == len(tokens),
        },
        "ratio_to_ceiling": round(result["elapsed_s"] / 60, 3),
        "note": "one Celery-worker process (the job in-process) + 1 Daphne + PostgreSQL + Redis + the socket "
        "clients on the same 2-core machine; latency is from the batch's stored timestamp to the socket, so it "
        "includes writing the rest of that 1,000-fan batch",
    }
    path = write_results("broadcast", machine, figures)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    log(f"wrote {path}")


def budget_shop_prepare(shop) -> tuple[list[int], list[int]]:
    """The bench shop's budget: 1 a day and 3 a week, no quiet hours; no promotions yet; 5% opted out
    (id % 20 == 0) and 10% already promoted today (id % 10 == 3). Returns (fan ids, promoted fan ids)."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from fans.bot.models import BotSettings, Broadcast, PromoDelivery
    from fans.chat.models import Fan

    BotSettings.objects.update_or_create(
        shop=shop,
        defaults={
            "quiet_start": dt.time(0, 0),
            "quiet_end": dt.time(0, 0),
            "promo_per_day": 1,
            "promo_per_week": 3,
        },
    )
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM fans_promodelivery WHERE fan_id IN (SELECT id FROM fans_fan WHERE shop_id = %s)",
            [shop.pk],
        )
        cur.execute("UPDATE fans_fan SET promotions_opt_out = (id %% 20 = 0) WHERE shop_id = %s", [shop.pk])
        cur.execute(
            "DELETE FROM fans_message WHERE conversation_id IN (SELECT id FROM fans_conversation WHERE shop_id = %s)",
            [shop.pk],
        )
        cur.execute(
            "UPDATE fans_conversation SET last_seq = 0, fan_read_seq = 0, shop_read_seq = 0, fan_unread = 0 WHERE shop_id = %s",
            [shop.pk],
        )
    Broadcast.objects.filter(shop=shop).delete()
    now = timezone.now()
    fan_ids = list(Fan.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    promoted = [f for f in fan_ids if f % 10 == 3]  # 10% already had today's promotion
    PromoDelivery.objects.bulk_create(
        [
            PromoDelivery(
                fan_id=f, source="campaign_card", status="sent", created_at=now - dt.timedelta(minutes=30)
            )
            for f in promoted
        ],
        batch_size=5000,
    )
    return fan_ids, promoted


async def run(ws_base: str, tokens: list[str], shop, member, bot) -> dict:
    import websockets

    text = f"双十二预售开团啦 {int(time.time())}"
    latencies: list[float] = []
    done = asyncio.Event()

    async def listen(token: str) -> None:
        async with websockets.connect(f"{ws_base}/ws/chat/?token={token}", max_queue=None) as ws:
            await ws.recv()  # hello
            ready.release()
            while not done.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=1)
                except TimeoutError:
                    continue
                frame = json.loads(raw)
                if frame.get("type") == "message.new" and frame["message"]["text"] == text:
                    created = dt.datetime.fromisoformat(frame["message"]["created_at"])
                    latencies.append((dt.datetime.now(dt.UTC) - created).total_seconds() * 1000)
                    return

    ready = asyncio.Semaphore(0)
    listeners = [asyncio.create_task(listen(t)) for t in tokens]
    for _ in tokens:
        await asyncio.wait_for(ready.acquire(), timeout=60)
    log("all online fans connected; broadcasting")

    def job() -> tuple[int, float]:
        from django.db import connection

        started = time.monotonic()
        fan_ids = list(shop.fans.order_by("pk").values_list("pk", flat=True))
        broadcast = bot.broadcast_create(
            member=member, kind="text", text=text, promotional=True, fan_ids=fan_ids
        )
        elapsed = time.monotonic() - started
        connection.close()
        return broadcast.pk, elapsed

    broadcast_id, elapsed = await asyncio.to_thread(job)
    log(f"broadcast persisted in {elapsed:.1f}s; waiting for live deliveries")
    try:
        await asyncio.wait_for(asyncio.gather(*listeners, return_exceptions=True), timeout=30)
    except TimeoutError:
        pass
    done.set()
    for task in listeners:
        task.cancel()
    return {"broadcast": broadcast_id, "elapsed_s": elapsed, "latencies_ms": latencies, "text": text}


if __name__ == "__main__":
    main()
