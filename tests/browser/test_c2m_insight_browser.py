"""The factory's insight report on its signed board, in a real browser on a phone: the chart, the
requests, and the PDF and CSV downloads."""

from decimal import Decimal

import pytest

from preorders.api_factory import board_token
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.c2m.insight_helpers import fans, pledge, say
from tests.factories import ShopFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_factory_sees_the_insight_and_downloads_the_reports(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    factory = Factory.objects.create(name="羽绒工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="冬季羽绒服", moq=10, lead_time_days=30, unit_cost=Decimal("200.00")
    )
    FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=5)
    FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=5)
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop")
    product, v_l, _ = shop_product(shop, fp)
    campaign = make_campaign(shop.owner, product)
    for fan in fans(shop, 10):
        pledge(campaign, fan, v_l, quantity=2)
        say(fan, "羽绒服能不能出大码")
    token = board_token(factory)
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, accept_downloads=True
        )
        page = ctx.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{base}/factory-board/{token}/")
            section = page.locator("#insight")
            expect(section.locator("h2")).to_have_text("洞察报告")
            expect(section.locator("#insight-chart rect")).to_have_count(1)
            expect(section.locator("#insight-requests li")).to_contain_text("羽绒服能不能出大码")
            expect(section.locator("#insight-requests li")).to_contain_text("10")
            expect(section.locator(f'tr[data-sku="{v_l.sku}"]')).to_contain_text("20")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 391  # the board fits the phone
            page.locator("#insight").screenshot(path=str(ARTIFACTS / "insight-390.png"))
            with page.expect_download() as pdf_info:
                page.click("#insight-pdf")
            pdf = pdf_info.value
            assert pdf.suggested_filename == f"insight-campaign-{campaign.pk}.pdf"
            assert open(pdf.path(), "rb").read(5) == b"%PDF-"
            with page.expect_download() as csv_info:
                page.click("#insight-csv")
            text = open(csv_info.value.path(), encoding="utf-8-sig").read()
            assert "羽绒服能不能出大码" in text
        finally:
            browser.close()
    assert errors == []
