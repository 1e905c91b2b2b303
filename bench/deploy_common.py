"""Shared by bench/deploy.py and bench/sockets.py: a bench database with one large shop, tokens for its fans,
and the deploy/ layout (deploy/serve.py: nginx, ASGI processes, worker, beat) in front of it."""

import os
import resource
import secrets
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.chat import manage, seed_scale_run  # noqa: E402
from bench.common import reset_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_deploy_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
OWNER_PASSWORD = "fansi-demo"  # bench/seed_scale.py's


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (max(hard, 65536), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(wanted, hard)))
            return wanted
        except (ValueError, OSError):
            continue
    return soft


def bench_env(prefix: str) -> dict[str, str]:
    """The stack's environment (production settings) and this process's (base settings, for the ORM)."""
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        FANSI_CHAT_RATE_LIMIT="1000000",
        PYTHONUNBUFFERED="1",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(50),
    )
    env.setdefault("FANSI_CHANNEL_PREFIX", prefix)
    env.setdefault("FANSI_CACHE_PREFIX", prefix)
    os.environ.update(env)
    return env


def stack_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings.production"}


@dataclass
class Cast:
    shop_id: int
    owner_token: str
    fan_tokens: list[str]
    conversations: list[int]
    fan_ids: list[int]


def prepare(env: dict[str, str], fans: int, *, skip_setup: bool) -> Cast:
    database_url = env["DATABASE_URL"]
    if not skip_setup:
        log(f"resetting {urlparse(database_url).path.lstrip('/')} and migrating")
        reset_database(database_url)
        manage(["migrate", "--noinput", "-v", "0"], env, timeout=600)
        log(f"seeding one shop with {fans:,} fans (bench/seed_scale.py)")
        seed_scale_run(["--fans", str(fans), "--tags", "20"], env, timeout=900)
    import django

    django.setup()
    return load_cast(fans)


def load_cast(fans: int) -> Cast:
    import datetime as dt

    from django.db import connection
    from rest_framework.authtoken.models import Token

    from fans.bot.models import BotSettings, PromoDelivery
    from fans.chat.models import Conversation
    from shops.models import Shop

    shop = Shop.objects.get(slug="scale")
    # A rerun on the same bench database (--skip-setup): the fans' attention budget starts afresh.
    PromoDelivery.objects.filter(broadcast__shop=shop).delete()
    # ... and so does the shop's broadcast rate limit (3 an hour): earlier runs' broadcasts are moved a day back.
    from django.db.models import F

    from fans.bot.models import Broadcast

    Broadcast.objects.filter(shop=shop).update(created_at=F("created_at") - dt.timedelta(days=1))
    # The broadcasts must go out at whatever hour the bench runs.
    BotSettings.objects.update_or_create(
        shop=shop, defaults={"quiet_start": dt.time(0), "quiet_end": dt.time(0)}
    )
    rows = list(
        Conversation.objects.filter(shop=shop)
        .order_by("pk")
        .values_list("pk", "fan_id", "fan__user_id")[:fans]
    )
    users = [r[2] for r in rows]
    have = set(Token.objects.filter(user_id__in=users).values_list("user_id", flat=True))
    Token.objects.bulk_create(
        [Token(user_id=u, key=Token.generate_key()) for u in users if u not in have], batch_size=5000
    )
    keys = dict(Token.objects.filter(user_id__in=users).values_list("user_id", "key"))
    owner_token = Token.objects.get_or_create(user=shop.owner)[0].key
    connection.close()
    return Cast(shop.pk, owner_token, [keys[u] for u in users], [r[0] for r in rows], [r[1] for r in rows])


def client_context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def stack_pids(session_pids: list[int]) -> dict[str, list[int]]:
    """The stack's processes by kind, from their command lines."""
    kinds: dict[str, list[int]] = {"asgi": [], "nginx": [], "worker": [], "beat": []}
    for pid in session_pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "daphne" in cmd or "uvicorn" in cmd:
            kinds["asgi"].append(pid)
        elif cmd.startswith("nginx"):
            kinds["nginx"].append(pid)
        elif "celery" in cmd and " worker" in cmd:
            kinds["worker"].append(pid)
        elif "celery" in cmd and " beat" in cmd:
            kinds["beat"].append(pid)
    return kinds
