"""What every browser test needs: Debian's Chromium, logging in through the real page, chat helpers."""

import os
from pathlib import Path

from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in the test thread; the ORM calls in these tests are plain sync work.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Playwright cannot download its own browser here; these flags keep Debian's quiet on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].btn-primary")
    page.wait_for_load_state("networkidle")


def wait_online(page) -> None:
    page.wait_for_function("document.getElementById('conn-status').classList.contains('online')")


def send(page, text: str) -> None:
    page.fill("#composer-text", text)
    page.click("#send-button")
