"""Two real browsers against a real Daphne: a shop owner's inbox and a fan's phone chat, live."""

import datetime as dt

import pytest

from fans.bot.models import BotSettings
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in, send, wait_online
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

XSS = "<script>window.__xss=1</script>"


def test_owner_and_fan_chat_live_in_two_browsers(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    conversation_id = fan.conversation.pk
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Chinese-language browsers, like the owners' and fans' phones and PCs.
        owner_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        fan_ctx = browser.new_context(
            viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        errors: list[str] = []
        owner_page, fan_page = owner_ctx.new_page(), fan_ctx.new_page()
        for p in (owner_page, fan_page):
            p.set_default_timeout(15000)
            p.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            # Both log in through the real login page; home routes each one to their chat.
            log_in(owner_page, base, "owner")
            assert owner_page.url.endswith("/inbox/")
            expect(owner_page.locator("html")).to_have_attribute("lang", "zh-hans")
            wait_online(owner_page)
            log_in(fan_page, base, "fan")
            assert fan_page.url.endswith(f"/s/{shop.slug}/")
            wait_online(fan_page)

            # The fan writes; the owner's list (no conversation open) updates live with an unread badge.
            send(fan_page, "你好，老板！面霜还有货吗？")
            expect(fan_page.locator(".msg.own .bubble", has_text="面霜还有货吗")).to_be_visible()
            expect(fan_page.locator(".msg.own .msg-status").last).to_have_text("已送达")
            item = owner_page.locator(f'li[data-conversation="{conversation_id}"]')
            expect(item.locator(".conv-preview")).to_have_text("你好，老板！面霜还有货吗？")
            expect(item.locator(".badge")).to_have_text("1")

            # Opening the conversation shows the history and marks it read: the fan sees "已读".
            item.locator("a").click()
            owner_page.wait_for_url(f"**/inbox/c/{conversation_id}/**")
            wait_online(owner_page)
            expect(owner_page.locator("#message-list .bubble", has_text="面霜还有货吗")).to_be_visible()
            expect(fan_page.locator(".msg.own .msg-status").last).to_have_text("已读")

            # Typing shows on the other side.
            owner_page.fill("#composer-text", "有")
            owner_page.dispatch_event("#composer-text", "input")
            expect(fan_page.locator("#typing")).to_be_visible()

            # The owner replies; the fan sees it live.
            send(owner_page, "有的，今天下单明天发货～")
            expect(fan_page.locator("#message-list .bubble", has_text="今天下单明天发货")).to_be_visible()
            expect(owner_page.locator(f'li[data-conversation="{conversation_id}"] .badge')).to_be_hidden()

            # Markup in a message is text, on both sides, and never runs.
            send(fan_page, XSS)
            expect(owner_page.locator("#message-list .bubble", has_text=XSS)).to_be_visible()
            expect(fan_page.locator("#message-list .bubble", has_text=XSS)).to_be_visible()
            for p in (owner_page, fan_page):
                assert p.evaluate("typeof window.__xss") == "undefined"

            # Reload: the history is still there, in order, and nothing is left pending.
            fan_page.reload()
            owner_page.reload()
            wait_online(fan_page)
            wait_online(owner_page)
            for p in (owner_page, fan_page):
                expect(p.locator("#message-list .bubble")).to_have_count(3)
                texts = p.locator("#message-list .bubble").all_text_contents()
                assert texts == ["你好，老板！面霜还有货吗？", "有的，今天下单明天发货～", XSS]
                assert p.locator(".msg.pending").count() == 0
                assert p.evaluate("typeof window.__xss") == "undefined"
            assert fan_page.evaluate("document.documentElement.scrollWidth") <= 375

            owner_page.screenshot(path=str(ARTIFACTS / "chat-owner.png"))
            fan_page.screenshot(path=str(ARTIFACTS / "chat-fan.png"))
            assert errors == []
        finally:
            browser.close()


def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (242, 103, 74)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_cards_pictures_and_assignment_in_the_browser(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    from tests.factories import ProductFactory

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    ProductFactory(shop=shop, name="保湿面霜 50ml", price="129.00")
    # An unprompted card waits out quiet hours (22:00-08:00): the test must not depend on the hour.
    BotSettings.objects.create(shop=shop, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    conversation_id = fan.conversation.pk
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        owner_page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
        fan_page = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN").new_page()
        errors: list[str] = []
        for p in (owner_page, fan_page):
            p.set_default_timeout(15000)
            p.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(owner_page, base, "owner")
            owner_page.goto(f"{base}/inbox/c/{conversation_id}/")
            wait_online(owner_page)
            expect(owner_page.locator("#send-button")).to_have_text("Send")
            log_in(fan_page, base, "fan")
            wait_online(fan_page)

            # A product card from the picker reaches the fan as a card.
            owner_page.click("#card-button")
            owner_page.locator("#card-picker-list button", has_text="保湿面霜 50ml").click()
            card = fan_page.locator("#message-list .chat-card")
            expect(card.locator(".chat-card-name")).to_have_text("保湿面霜 50ml")
            expect(card.locator(".chat-card-price")).to_have_text("¥129.00")

            # A picture goes up through the REST upload and shows on both sides.
            fan_page.set_input_files(
                "#image-input", files=[{"name": "face.png", "mimeType": "image/png", "buffer": png_bytes()}]
            )
            expect(owner_page.locator("#message-list .bubble.image img")).to_be_visible()
            expect(fan_page.locator("#message-list .msg.own .bubble.image img")).to_be_visible()
            assert (
                owner_page.locator("#message-list .bubble.image img").evaluate("img => img.naturalWidth")
                == 64
            )

            # A file that only claims to be a picture is refused, with the reason next to it.
            fan_page.set_input_files(
                "#image-input",
                files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not an image"}],
            )
            failed = fan_page.locator(".msg.failed .msg-error")
            expect(failed).to_contain_text("图片发送失败")
            failed.locator("button", has_text="删除").click()
            expect(fan_page.locator(".msg.failed")).to_have_count(0)

            # Assignment: the select posts to the API and the list shows the assignee.
            owner_page.select_option("#assign-select", str(owner.pk))
            expect(
                owner_page.locator(f'li[data-conversation="{conversation_id}"] .conv-assignee')
            ).to_have_text("Assigned to 王店主")
            fan.conversation.refresh_from_db()
            assert fan.conversation.assigned_to_id == owner.pk
            owner_page.screenshot(path=str(ARTIFACTS / "chat-owner-cards.png"))
            fan_page.screenshot(path=str(ARTIFACTS / "chat-fan-cards.png"))
            assert errors == []
        finally:
            browser.close()
