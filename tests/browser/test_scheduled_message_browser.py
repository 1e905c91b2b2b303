"""A scheduled message to one fan in a real browser on a phone: staff open the conversation, write a message
for a time on the shop's clock, see it listed, cancel one, and the beat sends the other at its time."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from fans.bot.models import BotSettings
from fans.chat.models import Message
from reach.models import ScheduledMessage
from reach.services.scheduled import scheduled_messages_send_due
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_staff_schedule_a_message_list_it_cancel_one_and_the_other_goes(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    BotSettings.objects.create(shop=shop, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))
    fan = FanFactory(shop=shop, display_name="小红")
    conversation = fan.conversation
    when = (timezone.now().astimezone(ZoneInfo(shop.timezone)) + dt.timedelta(days=2)).replace(
        hour=11, minute=15, second=0, microsecond=0
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
        page = ctx.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/inbox/c/{conversation.pk}/?shop={shop.pk}")
            page.click("#scheduled-open")
            form = page.locator("#scheduled-form")
            expect(form).to_be_visible()
            expect(page.locator("#scheduled-at")).not_to_have_value("")  # tomorrow 10:00, shop time
            for text in ("周六上午记得来领试用装～", "这条会取消"):
                if not form.is_visible():
                    page.click("#scheduled-open")
                page.fill("#scheduled-text", text)
                page.fill("#scheduled-at", when.strftime("%Y-%m-%dT%H:%M"))
                page.click("#scheduled-save")
                expect(form).to_be_hidden()
            items = page.locator("#scheduled-list li")
            expect(items).to_have_count(2)
            rows = {m.text: m for m in ScheduledMessage.objects.all()}
            assert rows["周六上午记得来领试用装～"].send_at == when
            page.screenshot(path=str(ARTIFACTS / "scheduled-message-390.png"), full_page=True)

            page.locator(f'[data-scheduled-cancel="{rows["这条会取消"].pk}"]').click()
            expect(items).to_have_count(1)
            assert ScheduledMessage.objects.get(pk=rows["这条会取消"].pk).status == "cancelled"
            # After a reload the list comes from the server, cancelled ones left out.
            page.reload()
            expect(page.locator("#scheduled-list li")).to_have_count(1)
            expect(page.locator("#scheduled-list li")).to_contain_text("周六上午记得来领试用装～")
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
        finally:
            browser.close()
    assert errors == []
    assert scheduled_messages_send_due(now=when + dt.timedelta(seconds=5))["sent"] == 1
    assert Message.objects.filter(conversation=conversation, text="周六上午记得来领试用装～").count() == 1
    assert not Message.objects.filter(text="这条会取消").exists()
