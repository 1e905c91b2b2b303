"""The deployment test: the deploy/ layout (nginx, two ASGI processes, a Celery worker and beat, run by honcho as
`make serve-prod` runs them, under config.settings.production) and deploy/smoke.py through nginx only."""

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.utils import timezone

from tests import servers
from tests.deploy.stack import NGINX, ROOT, alive, deploy_stack
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory, VariantFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PASSWORD = "smoke-password-1"


def production_password(user) -> None:
    """Hashed as production checks it (the test settings' MD5 hasher is not enabled there)."""
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])


def seed() -> dict:
    from fans.bot.models import BotSettings
    from preorders.models import CampaignStatus
    from preorders.services import campaigns

    owner = UserFactory(username="smoke-owner")
    shop = ShopFactory(owner=owner, slug="smoke-shop")
    fan = FanFactory(shop=shop, user=UserFactory(username="smoke-fan"))
    for user in (owner, fan.user):
        production_password(user)
    # A broadcast at any hour the CI runs: no quiet hours.
    BotSettings.objects.update_or_create(
        shop=shop, defaults={"quiet_start": dt.time(0), "quiet_end": dt.time(0)}
    )
    product = ProductFactory(shop=shop)
    VariantFactory(product=product)
    deadline = timezone.now() + dt.timedelta(days=2)
    campaign = campaigns.campaign_create(
        user=owner, kind="group", product_id=product.pk, title="烟雾测试团", target_quantity=10,
        cap=20, deadline=deadline, balance_deadline=deadline + dt.timedelta(days=2), deposit_percent=20,
        per_fan_limit=5, tiers=[{"min_quantity": 10, "unit_price": "80.00"}],
    )  # fmt: skip
    campaigns.campaign_launch(user=owner, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE
    return {"shop": shop, "fan": fan, "campaign": campaign}


def stack_env() -> dict[str, str]:
    env = servers.test_database_env()
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    return env


@pytest.fixture
def nginx_present():
    if not Path(NGINX).exists():
        if servers.os.environ.get("FANSI_REQUIRE_SERVICES") == "1":
            pytest.fail(f"nginx is required for the deployment test ({NGINX}); .ci/run installs it")
        pytest.skip(f"no nginx at {NGINX}")


def test_deploy_layout_smoke_through_nginx(require_services, nginx_present, tmp_path):
    from fans.chat.models import Message
    from preorders.models import Pledge

    data = seed()
    with deploy_stack(stack_env(), tmp_path) as stack:
        smoke = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "smoke.py"), stack.url, "--cafile", str(stack.cafile)]
            + ["--owner", f"smoke-owner:{PASSWORD}", "--fan", f"smoke-fan:{PASSWORD}"]
            + ["--require-distinct-upstreams"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert smoke.returncode == 0, (smoke.stdout, smoke.stderr, stack.tail())
        report = json.loads(smoke.stdout.strip().splitlines()[-1])
        steps = report["steps"]
        assert steps["health"]["readyz"] == ["celery", "database", "redis"]
        chat = steps["chat"]
        assert (
            chat["owner_upstream"] and chat["fan_upstream"] and chat["owner_upstream"] != chat["fan_upstream"]
        )
        assert steps["pledge"]["campaign"] == data["campaign"].pk
        # What the smoke did is in the database: two chat messages, the broadcast's, the (cancelled) pledge.
        texts = list(Message.objects.filter(conversation__fan=data["fan"]).values_list("text", flat=True))
        assert "smoke reply" in texts and any(t.startswith("smoke broadcast") for t in texts), texts
        assert Pledge.objects.filter(pk=steps["pledge"]["pledge"], campaign=data["campaign"]).exists()

        # nginx's own limits: an upload over 20 MB is refused before Django, and /metrics is not public.
        big = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(stack.cafile), "-X", "POST",
             "-H", "Content-Type: application/octet-stream", "--data-binary", "@-", f"{stack.url}/api/auth/token/"],
            input=b"\0" * (21 * 1024 * 1024), capture_output=True, timeout=60,
        )  # fmt: skip
        assert big.stdout == b"413"
        assert stack.get("/metrics") == 404
        # The token endpoint is rate limited per address by nginx (cheap bad requests, no password hashing).
        codes = [post_status(stack, "/api/auth/token/", b"{}") for _ in range(60)]
        assert 429 in codes and codes[0] == 400, codes

        # SIGTERM (systemd, or Ctrl-C) stops every process of the layout: nothing is left behind.
        pids = stack.process_pids()
        commands = " ".join(command_line(p) for p in pids)
        assert commands.count("config.asgi:application") == 2 and "nginx: master" in commands, commands
        assert "-m uvicorn" in commands  # deploy/bin/asgi's default server
        assert " worker" in commands and " beat" in commands and "metrics_server" in commands, commands
        stack.proc.send_signal(signal.SIGTERM)
        stack.proc.wait(timeout=60)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert [command_line(p) for p in pids if alive(p)] == [], stack.tail()


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def post_status(stack, path: str, body: bytes) -> int:
    import urllib.request

    request = urllib.request.Request(
        stack.url + path, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=stack.context()) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
