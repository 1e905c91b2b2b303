"""Inbox triage and broadcasts in a real browser against a real Daphne, at phone (390x844) and desktop
(1280x800) sizes: the filter chips with counts kept in the URL, the fan's own presence under their name,
a broadcast whose audience count is confirmed in a dialog, its skipped fans and "send later"; and every
staff page fitting a 390 px phone with every section reachable."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from fans.bot.models import BotSettings, Broadcast, PromoDelivery
from fans.chat import services
from fans.chat.models import Conversation, Fan
from fans.crm.models import Segment
from fans.crm.services.fans import fan_tags_update
from shops.access import access_shop_membership
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in, send, wait_online
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


def say(user, fan, text):
    services.message_send(user=user, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text=text)


def context(browser, size):
    return browser.new_context(locale="zh-CN", **SIZES[size])


def page_of(ctx, errors):
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_triage_with_filters(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    waiting = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    answered = FanFactory(shop=shop, display_name="小蓝")
    oily = FanFactory(shop=shop, display_name="小绿")
    say(answered.user, answered, "有货吗")
    say(owner, answered, "有的")
    say(oily.user, oily, "我是油皮")
    say(owner, oily, "推荐控油系列")
    say(waiting.user, waiting, "请问什么时候发货？")
    member = access_shop_membership(owner, shop.pk)
    fan_tags_update(member=member, fan=oily, add=["skin_type:oily"], remove=[])
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        errors: list[str] = []
        page = page_of(context(browser, size), errors)
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/inbox/")
            wait_online(page)
            items = page.locator("#conv-list li.conv-item")
            expect(items).to_have_count(3)
            awaiting = page.locator('.triage-chip[data-filter="awaiting_reply"]')
            expect(awaiting.locator(".chip-count")).to_have_text("1")
            expect(page.locator('.triage-chip[data-filter="unread"] .chip-count')).to_have_text("1")
            expect(page.locator('.triage-chip[data-filter="mine"] .chip-count')).to_have_text("0")

            # 待回复: only the fan nobody has answered; the filter is in the URL and survives a reload.
            awaiting.click()
            page.wait_for_url("**filter=awaiting_reply**")
            expect(items).to_have_count(1)
            expect(items.first.locator(".conv-name")).to_have_text("小红")
            expect(items.first.locator(".conv-awaiting")).to_have_text("待回复")
            page.reload()
            expect(page.locator('.triage-chip[data-filter="awaiting_reply"]')).to_have_class(
                "chip triage-chip chip-on"
            )
            expect(items).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / f"inbox-triage-{size}.png"))

            # The chip again turns it off; a tag narrows to the fans holding it.
            page.click('.triage-chip[data-filter="awaiting_reply"]')
            expect(items).to_have_count(3)
            page.select_option("#tag-filter", "skin_type:oily")
            page.wait_for_url("**tag=skin_type%3Aoily**")
            expect(items).to_have_count(1)
            expect(items.first.locator(".conv-name")).to_have_text("小绿")

            # Opening a conversation keeps the filters; under the fan's name is the fan's presence,
            # offline although the owner's own page is connected.
            items.first.locator("a").click()
            page.wait_for_url(f"**/inbox/c/{oily.conversation.pk}/**tag=skin_type%3Aoily**")
            wait_online(page)
            expect(page.locator("#fan-presence")).to_have_text("离线")

            # The fan comes online: the owner sees it under the fan's name, live.
            page.goto(f"{base}/inbox/c/{waiting.conversation.pk}/")
            wait_online(page)
            expect(page.locator("#fan-presence")).to_have_text("离线")
            fan_page = page_of(context(browser, "phone"), errors)
            log_in(fan_page, base, "fan")
            wait_online(fan_page)
            expect(page.locator("#fan-presence")).to_have_text("在线")
            fan_page.context.close()
            expect(page.locator("#fan-presence")).to_have_text("离线")

            # Answering her empties 待回复, and the chip's count follows live.
            expect(page.locator('.triage-chip[data-filter="awaiting_reply"] .chip-count')).to_have_text("1")
            send(page, "明天上午发顺丰～")
            expect(page.locator('.triage-chip[data-filter="awaiting_reply"] .chip-count')).to_have_text("0")
            assert not Conversation.objects.get(pk=waiting.conversation.pk).awaiting_reply
            assert errors == []
        finally:
            browser.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_broadcast_with_confirmation(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    BotSettings.objects.create(
        shop=shop, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0), promo_per_day=1, promo_per_week=5
    )
    vip = [FanFactory(shop=shop, display_name=f"VIP{i}") for i in range(2)]
    others = [FanFactory(shop=shop, display_name=f"粉丝{i}") for i in range(3)]
    # One VIP already had today's promotion: the broadcast skips her, and she can be sent it later.
    PromoDelivery.objects.create(fan=vip[1], source="broadcast", status="sent", created_at=timezone.now())
    segment = Segment.objects.create(shop=shop, name="VIP", filter={"q": "VIP"})
    from tests.preorders.conftest import make_campaign

    campaign = make_campaign(owner, ProductFactory(shop=shop, price=Decimal("599.00")), title="冬季羽绒服团")

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        errors: list[str] = []
        page = page_of(context(browser, size), errors)
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/broadcasts/")
            count = page.locator("#bc-audience-count")
            expect(count).to_have_text(f"将发送给 {len(vip) + len(others)} 人")
            page.select_option("#bc-audience", str(segment.pk))
            expect(count).to_have_text("将发送给 2 人")

            # A campaign card, confirmed with the number of people; cancelling sends nothing.
            page.check("input[name=kind][value=campaign_card]")
            page.select_option("#bc-campaign", str(campaign.pk))
            page.click("#broadcast-form button[type=submit]")
            dialog = page.locator("#bc-confirm")
            expect(dialog).to_be_visible()
            expect(page.locator("#bc-confirm-count")).to_have_text("将发送给 2 人")
            page.screenshot(path=str(ARTIFACTS / f"broadcast-confirm-{size}.png"))
            page.click("#bc-confirm-cancel")
            expect(dialog).to_be_hidden()
            assert Broadcast.objects.count() == 0

            page.click("#broadcast-form button[type=submit]")
            page.click("#bc-confirm-send")
            row = page.locator("#broadcast-list li.broadcast-row").first
            expect(row.locator('[data-field="status"]')).to_have_text("已完成")
            expect(row.locator('[data-field="sent"]')).to_have_text("1")
            expect(row.locator(".bc-title")).to_contain_text("冬季羽绒服团")
            # The audience is still the segment: no silent reset to all fans.
            expect(page.locator("#bc-audience")).to_have_value(str(segment.pk))
            expect(count).to_have_text("将发送给 2 人")
            sent = Broadcast.objects.get()
            assert sent.selection["segment"] == segment.pk and sent.kind == "campaign_card"

            # The skipped fan by name and reason, and "send later" (which adds a row on top).
            row = page.locator(f'#broadcast-list li[data-broadcast="{sent.pk}"]')
            toggle = row.locator(".bc-skipped-toggle")
            expect(toggle).to_be_visible()
            toggle.click()
            skipped = row.locator(".bc-skipped-fan")
            expect(skipped).to_have_count(1)
            expect(skipped.locator(".bc-skipped-name")).to_have_text("VIP1")
            expect(skipped.locator(".bc-skipped-reason")).to_have_text("已跳过：超出打扰预算")
            row.locator(".bc-later-send").click()
            expect(row.locator(".bc-later-done")).to_be_visible()
            expect(page.locator("#broadcast-list li.broadcast-row")).to_have_count(2)
            later = Broadcast.objects.get(retry_of=sent)
            assert later.selection == {"fan_ids": [vip[1].pk]} and later.scheduled_at > timezone.now()
            expect(
                page.locator("#broadcast-list li.broadcast-row").first.locator('[data-field="status"]')
            ).to_have_text("已排期")
            page.screenshot(path=str(ARTIFACTS / f"broadcast-skipped-{size}.png"), full_page=True)
            assert Fan.objects.filter(shop=shop).count() == 5
            assert errors == []
        finally:
            browser.close()


def test_every_staff_page_fits_a_phone_and_reaches_every_section(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fan = FanFactory(shop=shop, display_name="小红")
    say(fan.user, fan, "你好，想问一下这款面霜适合油皮吗？链接发我看看 https://example.com/a/very/long/path")
    from tests.preorders.conftest import make_campaign

    campaign = make_campaign(owner, ProductFactory(shop=shop, price=Decimal("599.00")), title="冬季羽绒服团")
    pages = [
        "/inbox/",
        f"/inbox/c/{fan.conversation.pk}/",
        "/fans/",
        f"/fans/{fan.pk}/",
        "/fans/import/",
        "/segments/",
        "/team/",
        "/bot/",
        "/broadcasts/",
        "/campaigns/",
        "/campaigns/new/",
        f"/campaigns/{campaign.pk}/",
        "/shop/settlement/",
        "/recommend/models/",
    ]

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        errors: list[str] = []
        page = page_of(context(browser, "phone"), errors)
        try:
            log_in(page, base, "owner")
            too_wide = {}
            for path in pages:
                response = page.goto(f"{base}{path}")
                assert response.status == 200, path
                page.wait_for_load_state("networkidle")
                width = page.evaluate("document.scrollingElement.scrollWidth")
                if width > 392:
                    too_wide[path] = width
            assert too_wide == {}

            # "More" opens every section; each link is visible and leads to its page.
            page.goto(f"{base}/inbox/")
            links = page.locator("#staff-nav a")
            total = links.count()
            assert total >= 9
            page.click("#nav-more")
            expect(page.locator("#nav-more")).to_have_attribute("aria-expanded", "true")
            for i in range(total):
                expect(links.nth(i)).to_be_in_viewport()
            page.screenshot(path=str(ARTIFACTS / "staff-nav-phone.png"))
            links.filter(has_text="推荐").click()
            page.wait_for_url("**/recommend/models/**")
            assert errors == []
        finally:
            browser.close()
