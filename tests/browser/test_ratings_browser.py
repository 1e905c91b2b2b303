"""红黑榜 in a real browser on a phone: the owner rates a product black and sees it on the board."""

import pytest

from shops.rating_models import Rating
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import ProductFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_owner_saves_a_black_rating_and_sees_the_board(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product = ProductFactory(name="起球毛衣", category="clothing")
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
            page.goto(f"{base}/ratings/?entity_type=product&category=clothing")
            expect(page.locator("h1")).to_have_text("红黑榜")
            page.fill("#rate-entity", str(product.pk))
            page.check("#rate-black")
            page.select_option("#rate-reason", "quality_bad")
            page.fill("#rate-text", "洗一次就起球")
            page.click("#rate-submit")
            expect(page.locator("#rating-message")).to_have_text("本店的评价已保存。")
            row = page.locator(f'#board-table tr[data-entity="{product.pk}"]')
            expect(row).to_contain_text("起球毛衣")
            expect(row).to_contain_text("品质差")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 391  # the page fits the phone (the table scrolls in its own box)
            page.screenshot(path=str(ARTIFACTS / "ratings-390.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    rating = Rating.objects.get()
    assert (rating.verdict, rating.reason, rating.text) == ("black", "quality_bad", "洗一次就起球")
