"""Scheduled and deferred broadcasts at scale (issue 16): adds its figures to bench/results/reach.json.

Setup: resets the bench database (its name must contain "bench"), migrates and seeds one shop of --fans fans
with `bench/seed_scale.py`. 10% of the fans already had today's promotion (the budget must skip them) and 5%
have opted out. Then, in this process playing both beat and the Celery worker (eager tasks):

  scheduled_100k_lateness_p99_s  a broadcast to every fan scheduled --ahead seconds ahead (default 120);
                                 beat's `broadcasts_due` is called every 10 s, as CELERY_BEAT_SCHEDULE runs
                                 it; lateness is each stored message's created_at minus send_at (p50, p99)
  over_budget_sent               fans who got more promotions today than the cap allows (must be 0)
  sent_in_quiet_hours            a second broadcast sent while the shop's quiet hours hold: messages stored
                                 inside quiet hours (must be 0; every fan is deferred to their end)
  deferred_in_quiet_hours        how many of those deliveries were deferred instead of skipped
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.broadcast import budget_shop_prepare  # noqa: E402
from bench.chat import manage, seed_scale_run  # noqa: E402
from bench.common import RESULTS_DIR, machine_info, percentile, print_machine, reset_database, write_results  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_reach_schedule_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
SLUG = "sched"
BEAT_EVERY_S = 10.0
TARGETS = {"scheduled_100k_lateness_p99_s": 60, "over_budget_sent": 0, "sent_in_quiet_hours": 0}


def log(msg: str) -> None:
    print(f"[reach-schedule {time.strftime('%H:%M:%S', time.gmtime())}Z] {msg}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fans", type=int, default=100_000)
    parser.add_argument("--ahead", type=float, default=120.0)
    parser.add_argument("--skip-setup", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.setdefault("FANSI_CHANNEL_PREFIX", "fansi_sched")
    env.setdefault("FANSI_CACHE_PREFIX", "fansi_sched")
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.update(env)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"  # this process plays the Celery worker

    machine = machine_info(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"])
    print_machine(machine)
    if not args.skip_setup:
        log("resetting and migrating the bench database")
        reset_database(env["DATABASE_URL"])
        manage(["migrate", "--noinput"], env, timeout=900)
        log(f"seeding {args.fans} fans")
        seed_scale_run(["--fans", str(args.fans), "--shop-slug", SLUG, "--tags", "60"], env, timeout=1200)

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from fans.bot import services as bot
    from fans.bot.models import BotSettings, PromoDelivery
    from fans.bot.services.facts import bot_facts_forget
    from shops.models import Shop, ShopMember

    shop = Shop.objects.get(slug=SLUG)
    member = ShopMember.objects.get(shop=shop, user=shop.owner)
    fan_ids, _promoted = budget_shop_prepare(shop)
    now = timezone.now()

    # 1. Scheduled: created now for --ahead seconds later; beat looks every 10 s.
    text = f"周末特惠提前通知 {int(time.time())}"
    send_at = timezone.now() + dt.timedelta(seconds=args.ahead)
    broadcast = bot.broadcast_create(member=member, kind="text", text=text, filter={}, send_at=send_at)
    log(f"broadcast #{broadcast.pk} scheduled for {send_at.isoformat()} ({broadcast.queued} fans)")
    started = None  # when the beat call that ran it returned (eager: the whole job)
    while True:
        tick = time.monotonic()
        if bot.broadcasts_due():
            started = timezone.now()
        broadcast.refresh_from_db()
        if broadcast.status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(max(0.0, BEAT_EVERY_S - (time.monotonic() - tick)))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT EXTRACT(EPOCH FROM (m.created_at - %s)) FROM fans_message m "
            "JOIN fans_conversation c ON c.id = m.conversation_id WHERE c.shop_id = %s AND m.text = %s",
            [send_at, shop.pk, text],
        )
        lateness = [float(r[0]) for r in cur.fetchall()]
        day_start, _week, _t = bot.budget_windows(shop, timezone.now())
        cur.execute(
            "SELECT COUNT(*) FROM (SELECT fan_id FROM fans_promodelivery WHERE status = 'sent' AND created_at >= %s "
            "AND fan_id IN (SELECT id FROM fans_fan WHERE shop_id = %s) GROUP BY fan_id HAVING COUNT(*) > 1) t",
            [day_start, shop.pk],
        )
        over_budget_sent = cur.fetchone()[0]
    stats = bot.broadcast_stats(broadcast)
    log(f"sent {stats['sent']}; lateness p99 {percentile(lateness, 99)} s")

    # 2. Quiet hours now: a second broadcast (the budget reset for it) must store nothing inside them.
    PromoDelivery.objects.filter(broadcast=broadcast).update(created_at=now - dt.timedelta(days=8))
    PromoDelivery.objects.filter(broadcast__isnull=True, fan__shop=shop).update(
        created_at=now - dt.timedelta(days=8)
    )
    local = timezone.now().astimezone(ZoneInfo(shop.timezone))
    quiet_start = (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet_end = (local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    BotSettings.objects.filter(shop=shop).update(quiet_start=quiet_start, quiet_end=quiet_end)
    bot_facts_forget(shop.pk)
    quiet_text = f"晚安特价 {int(time.time())}"
    quiet_from = timezone.now()
    t0 = time.perf_counter()
    # Created and (eager dispatch after commit) run: every fan's delivery is decided now, inside quiet hours.
    night = bot.broadcast_create(member=member, kind="text", text=quiet_text, filter={})
    bot.broadcast_run(broadcast_id=night.pk)  # a no-op if the dispatch already ran it
    quiet_run_s = time.perf_counter() - t0
    bot.broadcast_deferred_send()  # beat during quiet hours: nothing is due yet
    with connection.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM fans_message m JOIN fans_conversation c ON c.id = m.conversation_id "
            "WHERE c.shop_id = %s AND m.created_at >= %s AND m.created_at < %s",
            [shop.pk, quiet_from, timezone.now()],
        )
        sent_in_quiet_hours = cur.fetchone()[0]
    night.refresh_from_db()

    lateness_p99 = percentile(lateness, 99)
    figures = {
        "scheduled_fans": len(fan_ids),
        "scheduled_ahead_s": args.ahead,
        "scheduled_100k_lateness_p50_s": percentile(lateness, 50),
        "scheduled_100k_lateness_p99_s": lateness_p99,
        "scheduled_100k_lateness_max_s": round(max(lateness), 2) if lateness else None,
        "scheduled_finished_after_s": round((started - send_at).total_seconds(), 2) if started else None,
        "scheduled_sent": stats["sent"],
        "scheduled_skipped_reasons": stats["skipped_reasons"],
        "over_budget_sent": over_budget_sent,
        "sent_in_quiet_hours": sent_in_quiet_hours,
        "deferred_in_quiet_hours": night.deferred,
        "quiet_hours_run_s": round(quiet_run_s, 2),
        "schedule_targets": TARGETS,
        "schedule_ratio_to_ceiling": round(lateness_p99 / 60, 3) if lateness_p99 is not None else None,
        "schedule_note": "one process plays beat (broadcasts_due every 10 s) and the worker (eager tasks) with "
        "PostgreSQL and Redis on the same 2-core machine; lateness includes waiting for the next beat tick",
    }
    path = RESULTS_DIR / "reach.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    if "machine" in merged:  # bench/reach.py's own run (push, digests) keeps its machine
        merged.setdefault("push_machine", merged["machine"])
    merged.pop("machine", None)
    merged.pop("date", None)
    merged.update(figures)
    merged["schedule_machine"] = machine
    write_results("reach", machine, merged)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
