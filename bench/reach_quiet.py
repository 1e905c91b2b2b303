"""Transactional pushes in quiet hours (issue 16: "sent_in_quiet_hours = 0, transactional included").

Setup: resets the bench database (its name must contain "bench"), migrates and seeds one shop of --fans fans
(bench/seed_scale.py), each with a push subscription pointing at bench/reach.py's push sink (a separate
process on 127.0.0.1 that accepts every push with 201 and counts them). The shop's quiet hours are set to end
at the next minute boundary at least --window seconds ahead. Then, in this process playing the Celery worker
(eager tasks) and beat (`deferred_pushes_send_due` every 30 s, as CELERY_BEAT_SCHEDULE runs it):

  sent_in_quiet_hours_transactional   a balance-due notice and a shipment notice appended for every fan
                                      (preorders' way: side=system, 2,000 conversations a transaction), nobody
                                      online: pushes the sink received while quiet hours held (must be 0)
  quiet_transactional_delivered       pushes received after quiet hours ended (must equal the fans: one per
                                      fan, the two notices collapsed per conversation)
  quiet_transactional_first_s / _last_s   from the end of quiet hours to the sink's first and last push
                                      (includes up to one beat interval of waiting)

Merges its keys into bench/results/reach.json and leaves the others there.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.chat import manage, seed_scale_run  # noqa: E402
from bench.common import RESULTS_DIR, free_port, machine_info, print_machine, reset_database, write_results  # noqa: E402
from bench.reach import sink_count  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_reach_quiet_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SLUG = "quiet"
BATCH = 2000
BEAT_EVERY_S = 30.0


def log(msg: str) -> None:
    print(f"[reach-quiet {time.strftime('%H:%M:%S', time.gmtime())}Z] {msg}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fans", type=int, default=5_000)
    parser.add_argument("--window", type=float, default=60.0, help="least seconds of quiet hours left")
    parser.add_argument("--skip-setup", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.setdefault("FANSI_CHANNEL_PREFIX", "fansi_quietb")
    env.setdefault("FANSI_CACHE_PREFIX", "fansi_quietb")
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.update(env)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"

    machine = machine_info(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"])
    print_machine(machine)
    if not args.skip_setup:
        log("resetting and migrating the bench database")
        reset_database(env["DATABASE_URL"])
        manage(["migrate", "--noinput"], env, timeout=900)
        log(f"seeding {args.fans} fans")
        seed_scale_run(["--fans", str(args.fans), "--shop-slug", SLUG, "--tags", "10"], env, timeout=900)

    import django

    django.setup()
    from django.core.cache import cache

    cache.clear()  # nobody online
    figures = quiet_bench(args.window)
    figures["quiet_notes"] = (
        "2-core VM shared with other helpers' jobs; beat simulated in-process every 30 s; eager Celery tasks"
    )
    target = RESULTS_DIR / "reach.json"
    previous = {}
    if target.exists():
        previous = {k: v for k, v in json.loads(target.read_text()).items() if k not in ("machine", "date")}
    path = write_results("reach", machine, {**previous, **figures, "quiet_machine": machine})
    log(f"wrote {path}: {json.dumps(figures)}")


def quiet_bench(window: float) -> dict:
    from django.utils import timezone

    from fans.bot.models import BotSettings
    from fans.bot.services.facts import bot_facts_forget
    from fans.chat.append import NewMessage, conversations_lock, messages_append
    from fans.chat.models import Fan, MessageKind, Side
    from reach.models import DeferredPush, PushSubscription
    from reach.services.deferred_push import deferred_pushes_send_due
    from shops.models import Shop
    from tests.reach.pushserver import DeviceKeys

    shop = Shop.objects.get(slug=SLUG)
    fans = list(Fan.objects.filter(shop=shop).order_by("pk").values_list("pk", "user_id"))
    local = timezone.now().astimezone(ZoneInfo(shop.timezone))
    end_local = (local + dt.timedelta(seconds=window + 60)).replace(second=0, microsecond=0)
    BotSettings.objects.update_or_create(
        shop=shop,
        defaults={
            "enabled": False,
            "quiet_start": (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0),
            "quiet_end": end_local.time(),
        },
    )
    bot_facts_forget(shop.pk)
    quiet_end = end_local.astimezone(dt.UTC)
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "reach.py"), "--sink", str(port)], cwd=ROOT)
    try:
        for _ in range(100):
            try:
                sink_count(port)
                break
            except OSError:
                time.sleep(0.1)
        keys = DeviceKeys().keys()
        PushSubscription.objects.filter(user_id__in=[u for _f, u in fans]).delete()
        PushSubscription.objects.bulk_create(
            [
                PushSubscription(user_id=u, endpoint=f"http://127.0.0.1:{port}/push/{u}", **keys)
                for _f, u in fans
            ],
            batch_size=5000,
        )
        DeferredPush.objects.all().delete()
        log(
            f"quiet hours until {quiet_end.isoformat()}: balance-due and shipment notices to {len(fans)} fans"
        )
        fan_ids = [f for f, _u in fans]
        for text in ("尾款待支付：请在 24 小时内付清", "您的包裹已发货"):
            for i in range(0, len(fan_ids), BATCH):
                with django_atomic():
                    locked = conversations_lock(fan_ids=fan_ids[i : i + BATCH])
                    messages_append(
                        [
                            NewMessage(conversation=c, side=Side.SYSTEM, kind=MessageKind.SYSTEM, text=text)
                            for c in locked.values()
                        ]
                    )
        stored = DeferredPush.objects.filter(state="pending").count()
        log(f"{stored} pushes deferred; beat every {BEAT_EVERY_S:.0f} s")
        in_quiet = 0
        first = last = None
        last_beat = -BEAT_EVERY_S
        deadline = time.monotonic() + window + 600
        while time.monotonic() < deadline:
            if time.monotonic() - last_beat >= BEAT_EVERY_S:
                last_beat = time.monotonic()
                deferred_pushes_send_due()
            received = sink_count(port)
            after = (timezone.now() - quiet_end).total_seconds()
            if after < 0:
                in_quiet = received  # pushes that arrived while the window is still open
            elif received > in_quiet:
                first = after if first is None else first
                if received - in_quiet >= len(fans):
                    last = after
                    break
            time.sleep(0.2)
        delivered = sink_count(port) - in_quiet
    finally:
        sink.terminate()
        sink.wait(10)
    log(f"in quiet hours {in_quiet}; after {delivered} (first {first} s, last {last} s)")
    return {
        "sent_in_quiet_hours_transactional": in_quiet,
        "quiet_transactional_fans": len(fans),
        "quiet_transactional_deferred": stored,
        "quiet_transactional_delivered": delivered,
        "quiet_transactional_first_s": round(first, 2) if first is not None else None,
        "quiet_transactional_last_s": round(last, 2) if last is not None else None,
    }


def django_atomic():  # noqa: ANN201
    from django.db import transaction

    return transaction.atomic()


if __name__ == "__main__":
    main()
