"""The composer's /campaign button in a real browser: the bot drafts the shop's live campaign for this
fan, the owner sends it, and the fan's phone shows the campaign card live."""

import datetime as dt

import pytest

from fans.bot.models import BotSettings
from fans.chat.models import Message
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in, wait_online
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_campaign_button_drafts_a_live_campaign_and_sends_its_card(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    product, *_variants = shop_product(shop)
    campaign = make_campaign(owner, product, title="控油洁面团购")
    # Cards sent unprompted wait out quiet hours; the test must not depend on the hour it runs at.
    BotSettings.objects.update_or_create(
        shop=shop, defaults={"quiet_start": dt.time(0, 0), "quiet_end": dt.time(0, 0)}
    )
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        owner_page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
        fan_page = browser.new_context(
            viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True, locale="zh-CN"
        ).new_page()
        errors: list[str] = []
        for p in (owner_page, fan_page):
            p.set_default_timeout(15000)
            p.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(fan_page, base, "fan")
            wait_online(fan_page)
            log_in(owner_page, base, "owner")
            owner_page.goto(f"{base}/inbox/c/{fan.conversation.pk}/")
            wait_online(owner_page)

            owner_page.click('[data-command="/campaign"]')
            expect(owner_page.locator("#drafts")).to_be_visible()
            draft = owner_page.locator("#drafts-list .draft").first
            expect(draft).to_contain_text("控油洁面团购")
            draft.locator(".draft-send").click()

            expect(fan_page.locator("#message-list .chat-card", has_text="控油洁面团购")).to_be_visible()
            expect(owner_page.locator("#message-list .chat-card", has_text="控油洁面团购")).to_be_visible()
            owner_page.screenshot(path=str(ARTIFACTS / "campaign-draft.png"))
            stored = Message.objects.get(conversation=fan.conversation, kind="campaign_card")
            assert stored.payload["campaign"] == campaign.pk and stored.side == "shop"
            assert errors == []
        finally:
            browser.close()
