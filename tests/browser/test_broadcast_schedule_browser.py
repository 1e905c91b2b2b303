"""Scheduled and deferred broadcasts in a real browser on a phone: schedule one for a time on the shop's
clock, edit its text and time, cancel it; a broadcast in quiet hours shows who waits and until when."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from fans.bot.models import BotSettings, Broadcast
from fans.chat.models import Message
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_owner_schedules_edits_and_cancels_a_broadcast_and_sees_deferred_fans(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fans = [FanFactory(shop=shop, display_name=f"粉丝{i}") for i in range(3)]
    tz = ZoneInfo(shop.timezone)
    local = timezone.now().astimezone(tz)
    # Quiet hours from an hour ago to two hours ahead on the shop's clock.
    BotSettings.objects.create(
        shop=shop,
        quiet_start=(local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0),
        quiet_end=(local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0),
        promo_per_day=3,
        promo_per_week=10,
    )
    when = (local + dt.timedelta(days=3)).replace(hour=10, minute=30, second=0, microsecond=0)
    moved = when + dt.timedelta(hours=1, minutes=15)
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
        page = ctx.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda d: d.accept())
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/broadcasts/")
            # Schedule one for a time on the shop's clock.
            page.fill("#bc-text", "周六上午十点半，新品试用装免费领")
            page.check("#bc-when-later")
            expect(page.locator("#bc-send-at-field")).to_be_visible()
            expect(page.locator("#bc-submit")).to_have_text("定时群发")
            page.fill("#bc-send-at", when.strftime("%Y-%m-%dT%H:%M"))
            page.click("#bc-submit")
            expect(page.locator("#bc-confirm-when")).to_contain_text(when.strftime("%Y-%m-%d %H:%M"))
            page.click("#bc-confirm-send")
            row = page.locator("#broadcast-list li.broadcast-row").first
            expect(row.locator('[data-field="status"]')).to_have_text("已排期")
            expect(row.locator('[data-field="scheduled"]')).to_be_visible()
            scheduled = Broadcast.objects.get()
            assert scheduled.scheduled_at == when and scheduled.status == "queued"
            assert not Message.objects.filter(text__startswith="周六上午").exists()
            page.screenshot(path=str(ARTIFACTS / "broadcast-scheduled-390.png"), full_page=True)

            # Edit its text and time.
            row.locator(".bc-edit").click()
            expect(row.locator(".bc-edit-at")).to_have_value(when.strftime("%Y-%m-%dT%H:%M"))
            row.locator(".bc-edit-text").fill("周六上午，新品试用装免费领（改）")
            row.locator(".bc-edit-at").fill(moved.strftime("%Y-%m-%dT%H:%M"))
            row.locator(".bc-edit-save").click()
            expect(row.locator(".bc-title")).to_have_text("周六上午，新品试用装免费领（改）")
            expect(row.locator(".bc-edit-form")).to_be_hidden()
            scheduled.refresh_from_db()
            assert scheduled.scheduled_at == moved and scheduled.text.endswith("（改）")

            # Cancel it: nobody gets it.
            row.locator(".bc-cancel").click()
            expect(row.locator('[data-field="status"]')).to_have_text("已取消")
            expect(row.locator(".bc-edit")).to_be_hidden()
            assert Broadcast.objects.get(pk=scheduled.pk).status == "cancelled"

            # Now, in quiet hours: every fan waits for them to end, and the row says until when.
            page.check("input[name=when][value=now]")
            page.fill("#bc-text", "晚安，明早见")
            page.click("#bc-submit")
            page.click("#bc-confirm-send")
            row = page.locator("#broadcast-list li.broadcast-row").first
            expect(row.locator('[data-field="deferred"]')).to_have_text(str(len(fans)))
            expect(row.locator('[data-field="deferred_line"]')).to_be_visible()
            expect(row.locator('[data-field="sent"]')).to_have_text("0")
            # The waiting deliveries can still be called off.
            expect(row.locator(".bc-cancel")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            page.screenshot(path=str(ARTIFACTS / "broadcast-deferred-390.png"), full_page=True)
            row.locator(".bc-cancel").click()
            expect(row.locator('[data-field="deferred"]')).to_have_text("0")
            assert not Message.objects.filter(text="晚安，明早见").exists()
        finally:
            browser.close()
    assert errors == []
