"""Reach bench: web push to 10,000 offline fans, and the staff digest over 10,000 waiting conversations.

Setup: resets the bench database (its name must contain "bench"), migrates and seeds one shop of --fans fans
(bench/seed_scale.py). A push sink (a separate process: an HTTP server on 127.0.0.1 that accepts every push
with 201 and counts them) stands in for the browsers' push services.

  push_10k_s                  a platform notice (a transactional message, like "your parcel shipped") is
                              appended for every fan in batches of 2,000 conversations per transaction, as
                              preorders' notices are; nobody has a socket open, so each commit hands the
                              messages to reach (fans.chat.hooks.message_persisted_listeners), whose task
                              (run in this process, as a Celery worker would) encrypts (aes128gcm), signs
                              (VAPID) and POSTs one push per fan. From the first append to the sink's 10,000th
                              push. Target <= 30 s.
  digest_10k_conversations_s  10,000 conversations awaiting a reply for 20 minutes, half assigned to five
                              staff and half unassigned: one beat run (reach.services.digests.digests_run)
                              marks them and sends each recipient's digest (email through Django's locmem
                              backend, so no SMTP server's speed is measured; a push each). Target <= 10 s.

Other reach figures (scheduled sends, lifecycle) belong to other benches: this one merges its keys into
bench/results/reach.json and leaves any others there.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.chat import manage, seed_scale_run  # noqa: E402
from bench.common import RESULTS_DIR, free_port, machine_info, print_machine, reset_database, write_results  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_reach_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SLUG = "reach"
BATCH = 2000


def log(msg: str) -> None:
    print(f"[reach {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- the push sink (its own process, so its work does not share this process's GIL) -------------------


def run_sink(port: int) -> None:
    count = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                count[0] += 1
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"count": count[0]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def sink_count(port: int) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=5) as response:
        return json.loads(response.read())["count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fans", type=int, default=10_000)
    parser.add_argument("--skip-setup", action="store_true")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.sink)
        return

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.setdefault("FANSI_CHANNEL_PREFIX", "fansi_reach")
    env.setdefault("FANSI_CACHE_PREFIX", "fansi_reach")
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    env["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.update(env)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"  # this process plays the Celery worker

    machine = machine_info(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"])
    print_machine(machine)
    if not args.skip_setup:
        log("resetting and migrating the bench database")
        reset_database(env["DATABASE_URL"])
        manage(["migrate", "--noinput"], env, timeout=600)
        log(f"seeding {args.fans} fans")
        seed_scale_run(["--fans", str(args.fans), "--shop-slug", SLUG, "--tags", "10"], env, timeout=900)

    import django

    django.setup()
    from django.core.cache import cache

    cache.clear()  # nobody online: presence counters from earlier runs are gone
    figures = {"fans": args.fans}
    figures.update(push_bench())
    figures.update(digest_bench())
    previous: dict[str, Any] = {}
    target = RESULTS_DIR / "reach.json"
    if target.exists():
        previous = {k: v for k, v in json.loads(target.read_text()).items() if k not in ("machine", "date")}
    path = write_results("reach", machine, {**previous, **figures})
    log(f"wrote {path}: {json.dumps(figures)}")


def push_bench() -> dict[str, Any]:
    from django.db import connection, transaction

    from fans.chat.append import NewMessage, conversations_lock, messages_append
    from fans.chat.models import Fan, MessageKind, Side
    from reach.models import PushSubscription
    from shops.models import Shop
    from tests.reach.pushserver import DeviceKeys

    shop = Shop.objects.get(slug=SLUG)
    fans = list(Fan.objects.filter(shop=shop).order_by("pk").values_list("pk", "user_id"))
    port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)], cwd=ROOT)
    try:
        for _ in range(100):
            try:
                sink_count(port)
                break
            except OSError:
                time.sleep(0.1)
        keys = DeviceKeys().keys()  # one browser's keys for all: the sender's work per push is the same
        PushSubscription.objects.filter(user_id__in=[u for _f, u in fans]).delete()
        PushSubscription.objects.bulk_create(
            [
                PushSubscription(user_id=u, endpoint=f"http://127.0.0.1:{port}/push/{u}", **keys)
                for _f, u in fans
            ],
            batch_size=5000,
        )
        with connection.cursor() as cur:
            cur.execute(
                "DELETE FROM fans_message WHERE conversation_id IN "
                "(SELECT id FROM fans_conversation WHERE shop_id = %s)",
                [shop.pk],
            )
            cur.execute(
                "UPDATE fans_conversation SET last_seq = 0, fan_read_seq = 0, shop_read_seq = 0 WHERE shop_id = %s",
                [shop.pk],
            )
        log(f"pushing a notice to {len(fans)} offline fans")
        started = time.perf_counter()
        fan_ids = [f for f, _u in fans]
        for i in range(0, len(fan_ids), BATCH):
            with transaction.atomic():
                locked = conversations_lock(fan_ids=fan_ids[i : i + BATCH])
                messages_append(
                    [
                        NewMessage(
                            conversation=c, side=Side.SYSTEM, kind=MessageKind.SYSTEM, text="您的包裹已发货"
                        )
                        for c in locked.values()
                    ]
                )
        deadline = time.monotonic() + 120
        while sink_count(port) < len(fans) and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        received = sink_count(port)
    finally:
        sink.terminate()
        sink.wait(10)
    log(f"{received} pushes in {elapsed:.1f} s")
    return {"push_10k_s": round(elapsed, 2), "push_received": received}


def digest_bench() -> dict[str, Any]:
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.db import connection
    from django.utils import timezone

    from fans.chat.models import Conversation
    from reach.models import DigestMark
    from reach.services.digests import digests_run
    from shops.models import Shop, ShopMember, ShopRole

    shop = Shop.objects.get(slug=SLUG)
    user_model = get_user_model()
    staff = []
    for n in range(5):
        user, _created = user_model.objects.get_or_create(
            username=f"reach-staff-{n}", defaults={"email": f"staff{n}@reach.example"}
        )
        ShopMember.objects.get_or_create(shop=shop, user=user, defaults={"role": ShopRole.ASSISTANT})
        staff.append(user.pk)
    shop.owner.email = "owner@reach.example"
    shop.owner.save(update_fields=["email"])
    ids = list(Conversation.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    DigestMark.objects.filter(conversation_id__in=ids).delete()
    waiting_since = timezone.now() - dt.timedelta(minutes=20)
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE fans_conversation SET awaiting_reply = true, activity_at = %s, "
            "assigned_to_id = CASE WHEN id %% 2 = 0 THEN (%s::bigint[])[1 + (id / 2) %% 5] END WHERE shop_id = %s",
            [waiting_since, staff, shop.pk],
        )
    mail.outbox = []
    log(f"digesting {len(ids)} waiting conversations")
    started = time.perf_counter()
    result = digests_run()
    elapsed = time.perf_counter() - started
    log(f"{result} in {elapsed:.1f} s; {len(mail.outbox)} emails")
    return {
        "digest_10k_conversations_s": round(elapsed, 2),
        "digest_conversations": result["conversations"],
        "digest_emails": len(mail.outbox),
    }


if __name__ == "__main__":
    main()
