"""The fan's personalisation switch on /me/privacy/ in a real browser against a real Daphne."""

import time

import pytest

from fans.chat.models import Fan
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def _wait_for(fan_pk: int, value: bool) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if Fan.objects.get(pk=fan_pk).personalisation_opt_out is value:
            return True
        time.sleep(0.1)
    return False


def test_fan_turns_personalisation_off_and_on_again(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    user = UserFactory(username="fan-privacy")
    shop = ShopFactory(name="美妆小铺", slug="privacy-shop")
    other = ShopFactory(name="水果铺", slug="privacy-fruit")
    fan = FanFactory(shop=shop, user=user)
    untouched = FanFactory(shop=other, user=user)
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # A phone: the switch must be usable there.
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = ctx.new_page()
        try:
            log_in(page, base, "fan-privacy")
            page.goto(f"{base}/me/privacy/")
            box = page.locator(f'[data-personalisation-shop="{shop.pk}"]')
            expect(box).not_to_be_checked()
            box.check()
            assert _wait_for(fan.pk, True)
            expect(page.locator("#crm-flash")).to_contain_text("个性化推荐已关闭")
            assert Fan.objects.get(pk=untouched.pk).personalisation_opt_out is False

            page.reload()
            box = page.locator(f'[data-personalisation-shop="{shop.pk}"]')
            expect(box).to_be_checked()
            box.uncheck()
            assert _wait_for(fan.pk, False)
            expect(page.locator("#crm-flash")).to_contain_text("个性化推荐已重新开启")
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "privacy-personalisation.png"), full_page=True)
            raise
        finally:
            browser.close()
