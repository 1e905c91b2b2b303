"""The /bot/ page's Edit and Delete buttons on FAQ answers and canned replies, at phone and desktop sizes."""

import pytest

from fans.bot.models import CannedReply, FaqRule
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.mark.parametrize("size", list(SIZES))
def test_owner_edits_and_deletes_faq_answers_and_canned_replies(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    faq = FaqRule.objects.create(shop=shop, keywords="发货,快递", answer="48小时内发货")
    spare = FaqRule.objects.create(shop=shop, keywords="退货", answer="7天无理由")
    canned = CannedReply.objects.create(shop=shop, title="欢迎", text="你好 {fan_name}")
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        mobile = size == "phone"
        ctx = browser.new_context(viewport=SIZES[size], is_mobile=mobile, has_touch=mobile, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/bot/?shop={shop.pk}")
            item = page.locator(f'#faq-list li[data-id="{faq.pk}"]')
            expect(item.locator(".rule-text")).to_have_text("48小时内发货")

            # Edit an FAQ answer in place.
            item.locator("button.rule-edit").click()
            item.locator("textarea[name=answer]").fill("下单后24小时内发货")
            item.locator("button.rule-save").click()
            expect(item.locator(".rule-text")).to_have_text("下单后24小时内发货")
            expect(item.locator("button.rule-edit")).to_have_text("编辑")
            faq.refresh_from_db()
            assert faq.answer == "下单后24小时内发货"

            # Cancel leaves it as it was.
            item.locator("button.rule-edit").click()
            item.locator("textarea[name=answer]").fill("不要保存")
            item.locator("button.rule-cancel").click()
            expect(item.locator(".rule-text")).to_have_text("下单后24小时内发货")

            # Delete one (after the confirmation dialog).
            page.locator(f'#faq-list li[data-id="{spare.pk}"] button.rule-delete').click()
            expect(page.locator(f'#faq-list li[data-id="{spare.pk}"]')).to_have_count(0)
            assert not FaqRule.objects.filter(pk=spare.pk).exists()

            # A canned reply: edit its title, then delete it; the empty note comes back.
            reply = page.locator(f'#canned-list li[data-id="{canned.pk}"]')
            reply.locator("button.rule-edit").click()
            reply.locator("input[name=title]").fill("问候")
            reply.locator("button.rule-save").click()
            expect(reply.locator(".rule-keys")).to_have_text("问候")
            canned.refresh_from_db()
            assert canned.title == "问候"
            page.screenshot(path=str(ARTIFACTS / f"bot-rules-{size}.png"), full_page=True)
            reply.locator("button.rule-delete").click()
            expect(page.locator("#canned-list li")).to_have_count(0)
            expect(page.locator("#canned-empty")).to_be_visible()
            assert not CannedReply.objects.filter(pk=canned.pk).exists()

            # A newly added answer gets the same buttons.
            page.fill("#faq-keywords", "尺码")
            page.fill("#faq-answer", "看详情页尺码表")
            page.click("#faq-form button[type=submit]")
            added = page.locator("#faq-list li", has_text="看详情页尺码表")
            expect(added.locator("button.rule-delete")).to_be_visible()
            added.locator("button.rule-delete").click()
            expect(added).to_have_count(0)
            assert not FaqRule.objects.filter(keywords="尺码").exists()
            # No sideways scrolling on a phone.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            assert not errors, errors
        finally:
            browser.close()
