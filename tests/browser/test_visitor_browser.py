"""Visitor → sign-up → pledge in a real browser, on a phone and on a desktop: a logged-out visitor opens a
fan's shared campaign link, sees the preview, joins, signs up by phone code in place, and pays the deposit
on the same page; the pledge exists and the sharer is recorded as having invited them."""

import re

import pytest

from fans.chat.models import Fan
from fans.chat.referrals import fan_referral_code
from preorders.models import Pledge
from shops.auth_models import PhoneAccount
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@pytest.mark.parametrize("size", list(SIZES))
def test_visitor_signs_up_in_place_and_pledges(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product, _l, _m = shop_product(shop)
    campaign = make_campaign(owner, product, title="冬季羽绒服团购")
    sharer = FanFactory(shop=shop, display_name="小红")
    code = fan_referral_code(sharer)
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(locale="zh-CN", **SIZES[size])
        page = ctx.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            # The poster's short link, as the fan shared it, logged out: a preview, not a login page.
            page.goto(f"{base}/campaigns/{campaign.pk}/join/?ref={code}")
            page.wait_for_url(f"**/c/{campaign.pk}/?ref={code}")
            expect(page.locator("h1")).to_have_text("冬季羽绒服团购")
            expect(page.locator("[data-ladder] .tier")).to_have_count(3)
            expect(page.locator("[data-joined-count]")).to_have_text("0 人已参团")
            expect(page.locator("[data-deadline]")).to_contain_text("店铺时间")
            expect(page.locator("[data-deadline]")).to_be_visible()
            assert page.locator('meta[property="og:title"]').get_attribute("content") == "冬季羽绒服团购"
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

            # Join: the phone sign-up opens in place.
            page.locator("label.variant-chip").filter(has_text="M").click()
            button = page.locator("#pledge-submit")
            expect(button).to_have_text("参团")
            button.click()
            expect(page.locator("#signup-panel")).to_be_visible()
            page.fill("#signup-phone", "12345")
            page.click("#signup-send")
            expect(page.locator("#signup-error")).to_be_visible()
            page.fill("#signup-phone", "139 1234 5678")
            page.click("#signup-send")
            debug = page.locator("#signup-debug")
            expect(debug).to_be_visible()
            sms_code = debug.get_attribute("data-debug-code")
            page.fill("#signup-code", sms_code)
            page.fill("#signup-name", "新朋友")
            page.screenshot(path=str(ARTIFACTS / f"visitor-signup-{size}.png"), full_page=True)
            page.click("#signup-verify")

            # Signed in and following: the same form goes on to the deposit.
            expect(page.locator("#signup-panel")).to_be_hidden()
            expect(button).to_have_text(button.get_attribute("data-pay-label"))
            assert page.url.endswith(f"/c/{campaign.pk}/?ref={code}")  # no hop to the login page
            button.click()
            expect(page.locator("#pledge-success")).to_be_visible()
            expect(page.locator("[data-page=campaign-fan]")).to_have_attribute("data-committed", "1")
            expect(page.locator("[data-joined-count]")).to_have_text("1 人已参团")
            expect(page.locator(".fc-initials span")).to_have_text(["新"])
            page.screenshot(path=str(ARTIFACTS / f"visitor-pledged-{size}.png"), full_page=True)

            user = PhoneAccount.objects.get(phone="13912345678").user
            pledge = Pledge.objects.get(user=user)
            assert pledge.campaign_id == campaign.pk and pledge.variant_name == "M" and pledge.quantity == 1
            fan = Fan.objects.get(shop=shop, user=user)
            assert fan.referred_by == sharer and fan.display_name == "新朋友"

            # After a reload the page knows them, and offers their own share link.
            page.reload()
            expect(page.locator(".fc-mine")).to_contain_text("M")
            expect(page.locator("#share-link")).to_have_value(
                f"{base}/campaigns/{campaign.pk}/join/?ref={Fan.objects.get(pk=fan.pk).referral_code}"
            )
            assert errors == []
        finally:
            browser.close()


def test_login_page_signs_in_by_phone_and_goes_on_to_next(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-CN", **SIZES["phone"]).new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{base}/login/?next=/me/pledges/")
            expect(page.locator("#id_username")).to_be_visible()  # passwords still work
            page.fill("#signup-phone", "13700001111")
            page.click("#signup-send")
            debug = page.locator("#signup-debug")
            expect(debug).to_be_visible()
            page.fill(
                "#signup-code", "000000" if debug.get_attribute("data-debug-code") != "000000" else "111111"
            )
            page.click("#signup-verify")
            expect(page.locator("#signup-error")).to_contain_text("验证码错误")
            page.fill("#signup-code", debug.get_attribute("data-debug-code"))
            page.click("#signup-verify")
            page.wait_for_url(re.compile(r"^[^?]*/me/pledges/$"))
            assert PhoneAccount.objects.filter(phone="13700001111").exists()
            assert errors == []
        finally:
            browser.close()
