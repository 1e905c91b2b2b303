"""The chat bot in real browsers against a real Daphne: live tag suggestions in the inbox, handoff, the
composer assistant, the fan's "no promotions" switch, and a broadcast with live stats."""

import time

import pytest

from fans.bot.models import CannedReply, FaqRule, TagSuggestion
from fans.chat.models import Fan
from fans.crm.models import FanTag
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in, send, wait_online
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def suggested(fan) -> set[str]:
    rows = TagSuggestion.objects.filter(fan=fan).values_list("tag__group__code", "tag__code")
    return {f"{g}:{c}" for g, c in rows}


def test_owner_confirms_a_live_tag_suggestion_and_the_bot_hands_off(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    others = [FanFactory(shop=shop, display_name=f"粉丝{i}") for i in range(4)]
    FaqRule.objects.create(shop=shop, keywords="发货,快递", answer="下单后48小时内发货，顺丰包邮～")
    CannedReply.objects.create(shop=shop, title="欢迎", text="你好 {fan_name}，欢迎来到{shop_name}！")
    conversation_id = fan.conversation.pk
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
            log_in(owner_page, base, "owner")
            owner_page.goto(f"{base}/inbox/c/{conversation_id}/")
            wait_online(owner_page)
            panel = owner_page.locator("#bot-panel")
            expect(panel).to_be_visible()
            expect(owner_page.locator("#bot-status")).to_have_text("机器人自动回复中")
            expect(owner_page.locator("#suggestions-empty")).to_be_visible()

            log_in(fan_page, base, "fan")
            assert fan_page.url.endswith(f"/s/{shop.slug}/")
            wait_online(fan_page)
            expect(fan_page.locator(".promo-toggle")).to_contain_text("不接收推广")

            # The fan mentions their skin type: the suggestion appears live in the owner's bot panel.
            send(fan_page, "我是油皮，T区特别容易出油")
            suggestion = owner_page.locator('#suggestions li.suggestion[data-tag="skin_type:oily"]')
            expect(suggestion).to_be_visible()
            expect(suggestion.locator(".sugg-tag")).to_have_text("油皮")
            assert suggestion.locator(".sugg-confidence").inner_text().endswith("%")
            expect(suggestion.locator(".sugg-quote")).to_have_text("我是油皮，T区特别容易出油")
            expect(suggestion.locator(".sugg-quote mark")).to_have_text("油皮")
            expect(owner_page.locator("#suggestions-empty")).to_be_hidden()
            owner_page.screenshot(path=str(ARTIFACTS / "bot-suggestion.png"))

            # A negated statement suggests nothing.
            send(fan_page, "我不是干皮")
            expect(owner_page.locator("#message-list .bubble", has_text="我不是干皮")).to_be_visible()
            time.sleep(1.0)
            assert suggested(fan) == {"skin_type:oily"}
            expect(owner_page.locator("#suggestions li.suggestion")).to_have_count(1)

            # The bot answers an FAQ; its message carries a 机器人 badge on both sides.
            send(fan_page, "请问什么时候发货？")
            bot_msg = owner_page.locator("#message-list .msg.bot", has_text="48小时内发货")
            expect(bot_msg).to_be_visible()
            expect(bot_msg.locator(".bot-badge")).to_have_text("机器人")
            expect(fan_page.locator("#message-list .msg.bot .bot-badge")).to_have_text("机器人")

            # The owner confirms: the panel's tags show it, and the fan holds the tag with source "bot".
            suggestion.locator(".sugg-confirm").click()
            expect(suggestion).to_have_count(0)
            held = owner_page.locator('#fan-tags li[data-tag="skin_type:oily"]')
            expect(held).to_contain_text("油皮")
            expect(held.locator(".tag-source")).to_have_text("机器人")
            assert FanTag.objects.filter(
                fan=fan, tag__group__code="skin_type", tag__code="oily", source="bot"
            ).exists()
            owner_page.screenshot(path=str(ARTIFACTS / "bot-inbox.png"))

            # The canned-replies picker fills the composer with the rendered text.
            owner_page.click("#canned-button")
            owner_page.locator("#canned-picker-list button", has_text="欢迎").click()
            expect(owner_page.locator("#composer-text")).to_have_value("你好 小红，欢迎来到美妆小铺！")

            # A person replies: the bot steps back; Resume brings it back.
            owner_page.click("#send-button")
            expect(fan_page.locator("#message-list .bubble", has_text="欢迎来到美妆小铺")).to_be_visible()
            expect(owner_page.locator("#bot-status")).to_have_text("机器人已暂停（人工接管）")
            owner_page.click("#bot-resume")
            expect(owner_page.locator("#bot-status")).to_have_text("机器人自动回复中")
            fan.conversation.refresh_from_db()
            assert fan.conversation.bot_paused is False

            # /recommend drafts cards, or explains that the command is not available yet.
            send(owner_page, "/recommend")
            expect(owner_page.locator("#drafts")).to_be_visible()
            expect(
                owner_page.locator(
                    "#drafts-list .draft, #drafts-list .drafts-error, #drafts-list .drafts-note"
                ).first
            ).to_be_visible()
            expect(owner_page.locator("#drafts-list")).not_to_contain_text("正在起草")
            assert owner_page.locator("#message-list .bubble", has_text="/recommend").count() == 0
            owner_page.click("#drafts-close")

            # The fan's profile lists the tag with its source.
            owner_page.goto(f"{base}/fans/{fan.pk}/")
            expect(owner_page.locator(".held-tags li", has_text="油皮")).to_contain_text("机器人")

            # The fan turns promotions off from the chat header.
            fan_page.locator("#promo-opt-out").check()
            expect(fan_page.locator("#bot-flash")).to_contain_text("不再收到")
            deadline = time.monotonic() + 5
            while not Fan.objects.get(pk=fan.pk).promotions_opt_out and time.monotonic() < deadline:
                time.sleep(0.1)
            assert Fan.objects.get(pk=fan.pk).promotions_opt_out is True
            assert fan_page.evaluate("document.documentElement.scrollWidth") <= 375
            fan_page.screenshot(path=str(ARTIFACTS / "bot-fan.png"))

            # A promotional broadcast to all fans: the opted-out fan is skipped, stats and progress are live.
            owner_page.goto(f"{base}/broadcasts/")
            expect(owner_page.locator("#bc-audience option").first).to_have_text(
                f"全部粉丝 ({len(others) + 1})"
            )
            owner_page.fill("#bc-text", "新品控油洁面乳到货啦，老粉丝专享 8 折～")
            owner_page.click("#broadcast-form button[type=submit]")
            expect(owner_page.locator("#bc-confirm-count")).to_have_text(f"将发送给 {len(others) + 1} 人")
            owner_page.click("#bc-confirm-send")
            row = owner_page.locator("#broadcast-list li.broadcast-row").first
            expect(row.locator('[data-field="status"]')).to_have_text("已完成")
            expect(row.locator('[data-field="queued"]')).to_have_text(str(len(others) + 1))
            expect(row.locator('[data-field="skipped_opt_out"]')).to_have_text("1")
            expect(row.locator(".progress")).to_have_attribute("aria-valuenow", "100")
            sent = int(row.locator('[data-field="sent"]').inner_text())
            # In quiet hours (the test may run at any hour) fans get it when they end: deferred, not skipped.
            deferred = int(row.locator('[data-field="deferred"]').inner_text())
            budget = int(row.locator('[data-field="skipped_budget"]').inner_text())
            assert sent + deferred + budget == len(others)
            owner_page.screenshot(path=str(ARTIFACTS / "broadcasts.png"), full_page=True)

            # The bot settings page shows the FAQ rule and canned reply, and saves settings.
            owner_page.goto(f"{base}/bot/")
            expect(owner_page.locator("#faq-list")).to_contain_text("48小时内发货")
            owner_page.fill("#promo_per_week", "2")
            owner_page.click("#bot-settings-form button[type=submit]")
            expect(owner_page.locator("#settings-status")).to_have_text("已保存。")
            owner_page.screenshot(path=str(ARTIFACTS / "bot-settings.png"), full_page=True)
            assert shop.bot_settings.__class__.objects.get(shop=shop).promo_per_week == 2
            assert errors == []
        finally:
            browser.close()


def test_the_owner_sees_not_sure_when_the_bot_doubts_a_tag(transactional_db):
    """Owners rejected 油皮 often: its measured confidence is under the display threshold, so the inbox shows
    a plain "不确定" note with that number and the fan's words, and no suggestion to accept."""
    from django.core.cache import cache
    from playwright.sync_api import expect, sync_playwright

    from fans.bot import services as bot
    from fans.bot.models import PhraseRule

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    PhraseRule.objects.filter(phrase="油皮", shop__isnull=True).update(confirmed=5, rejected=20)
    cache.delete(f"bot:phrases:{shop.pk}")
    pct = round(bot.phrase_confidence(PhraseRule.objects.get(phrase="油皮", shop__isnull=True)) * 100)
    assert pct < 60
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        owner_ctx = browser.new_context(
            viewport={"width": 375, "height": 740}, is_mobile=True, locale="zh-CN"
        )
        fan_ctx = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, locale="zh-CN")
        errors: list[str] = []
        owner_page, fan_page = owner_ctx.new_page(), fan_ctx.new_page()
        for p in (owner_page, fan_page):
            p.set_default_timeout(15000)
            p.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(owner_page, base, "owner")
            owner_page.goto(f"{base}/inbox/c/{fan.conversation.pk}/")
            wait_online(owner_page)
            log_in(fan_page, base, "fan")
            wait_online(fan_page)

            send(fan_page, "我是油皮")
            owner_page.locator("#bot-toggle").click()  # on a phone the bot panel is a drawer
            note = owner_page.locator('#unsure-notes li.unsure-note[data-tag="skin_type:oily"]')
            expect(note).to_be_visible()
            expect(note.locator(".unsure-text")).to_have_text(f"不确定：可能是 油皮（{pct}%），证据不足")
            expect(note.locator(".sugg-quote mark")).to_have_text("油皮")
            # It never looks like a suggestion: no buttons, not in the suggestions list, no count on the toggle.
            expect(note.locator("button")).to_have_count(0)
            expect(owner_page.locator("#suggestions li")).to_have_count(0)
            expect(owner_page.locator("#bot-toggle-count")).to_be_hidden()
            assert not suggested(fan)
            owner_page.screenshot(path=str(ARTIFACTS / "bot-not-sure.png"))
            assert errors == []
        finally:
            browser.close()
