"""In the fan's quiet hours, a product card from the inbox's picker is not refused: the composer says when it
will go, and the conversation's "Send later" list shows it (issue 16: deferred, not skipped)."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

from fans.bot.models import BotSettings
from fans.chat.models import Message, MessageKind
from reach.models import ScheduledMessage
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in, wait_online
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory
from tests.servers import daphne_server


def test_a_card_in_quiet_hours_shows_as_scheduled_for_their_end(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    ProductFactory(shop=shop, name="晚安面膜", price="39.00")
    local = timezone.now().astimezone(ZoneInfo(shop.timezone))
    BotSettings.objects.create(
        shop=shop,
        enabled=False,
        quiet_start=(local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0),
        quiet_end=(local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0),
    )
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    conversation_id = fan.conversation.pk
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/inbox/c/{conversation_id}/")
            wait_online(page)
            page.click("#card-button")
            page.locator("#card-picker-list button", has_text="晚安面膜").click()
            expect(page.locator("#composer-error")).to_contain_text("Quiet hours for this fan")
            expect(page.locator("#scheduled-list li").first).to_contain_text("Product card")
            expect(page.locator("#message-list .msg.failed")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "quiet-card-deferred.png"))
        finally:
            browser.close()
    row = ScheduledMessage.objects.get()
    assert row.kind == "product_card" and row.status == "pending" and row.send_at > timezone.now()
    assert not Message.objects.filter(kind=MessageKind.PRODUCT_CARD).exists()
    assert errors == []
