"""Campaigns in a real browser against a real Daphne: the owner creates and launches, a fan joins on a phone,
and the owner's page shows the new progress without a reload."""

import re
from decimal import Decimal

import pytest

from preorders.models import Campaign, CampaignStatus, Pledge
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory, VariantFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def down_jacket(shop):
    factory = Factory.objects.create(name="羽绒工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="冬季羽绒服", moq=10, lead_time_days=30, unit_cost=Decimal("200.00")
    )
    fv_m = FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=5)
    fv_l = FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=5)
    product = ProductFactory(shop=shop, name="轻暖羽绒服", price=Decimal("500.00"), factory_product=fp)
    VariantFactory(product=product, name="M 黑", price=Decimal("500.00"), factory_variant=fv_m)
    VariantFactory(product=product, name="L 黑", price=Decimal("500.00"), factory_variant=fv_l)
    return product


def test_owner_creates_and_launches_fan_pledges_owner_sees_progress(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product = down_jacket(shop)
    FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        owner_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        fan_ctx = browser.new_context(
            viewport={"width": 375, "height": 740},
            locale="zh-CN",
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
        )
        page = owner_ctx.new_page()
        fan = fan_ctx.new_page()
        errors: list[str] = []
        for p in (page, fan):
            p.set_default_timeout(15000)
            p.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            # The owner finds Campaigns in the staff nav, picks the product and fills the form.
            log_in(page, base, "owner")
            page.click(".staff-nav >> text=活动")
            page.wait_for_url("**/campaigns/**")
            page.select_option("#new-product", str(product.pk))
            page.click("text=新建活动")
            page.wait_for_url(re.compile(r".*/campaigns/new/.*"))
            page.fill("#f-title", "冬季羽绒服团购")
            # Below the factory MOQ: the service's error shows on the field.
            page.fill("#f-target", "5")
            page.click("#create-campaign")
            expect(page.locator('[data-field="target_quantity"] .field-errors')).to_contain_text("10")
            page.fill("#f-target", "10")
            page.fill("#f-cap", "30")
            page.fill("#f-deposit", "20")
            page.fill("#f-limit", "5")
            page.click("#add-tier")
            page.locator("#tier-rows tr").nth(0).locator("[name=min_quantity]").fill("10")
            page.locator("#tier-rows tr").nth(0).locator("[name=unit_price]").fill("450")
            page.click("#add-tier")
            page.locator("#tier-rows tr").nth(1).locator("[name=min_quantity]").fill("20")
            page.locator("#tier-rows tr").nth(1).locator("[name=unit_price]").fill("400")
            page.screenshot(path=str(ARTIFACTS / "campaign-new.png"), full_page=True)
            page.click("#create-campaign")
            page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
            campaign = Campaign.objects.get(title="冬季羽绒服团购")
            assert campaign.status == CampaignStatus.DRAFT and campaign.tiers.count() == 2

            page.click("#launch-campaign")
            expect(page.locator("[data-status-badge]").first).to_have_text("进行中")
            expect(page.locator("#launch-campaign")).to_have_count(0)
            expect(page.locator("[data-page=campaign-detail]")).to_have_attribute("data-committed", "0")
            expect(page.locator("[data-next-tier]")).to_contain_text("10")

            # A fan on a phone opens the campaign page, picks L, two units, and pays the deposit.
            log_in(fan, base, "fan")
            fan.goto(f"{base}/c/{campaign.pk}/")
            fan.click("text=L 黑")
            fan.click("[data-step='1']")
            expect(fan.locator("#pledge-qty")).to_have_value("2")
            expect(fan.locator("#deposit-line")).to_contain_text("200")
            fan.click("#pledge-submit")
            expect(fan.locator("#pledge-success")).to_be_visible()
            expect(fan.locator("#pledge-success-text")).to_contain_text("200")
            expect(fan.locator("[data-page=campaign-fan]")).to_have_attribute("data-committed", "2")
            fan.screenshot(path=str(ARTIFACTS / "campaign-fan.png"), full_page=True)
            pledge = Pledge.objects.get()
            assert pledge.quantity == 2 and pledge.variant_name == "L 黑" and pledge.status == "active"

            # The owner's open page catches up (websocket frame or the 5 s poll) without a reload.
            expect(page.locator("[data-page=campaign-detail]")).to_have_attribute(
                "data-committed", "2", timeout=12000
            )
            expect(page.locator("[data-committed-text]").first).to_contain_text("2")
            expect(page.locator("[data-next-tier]")).to_contain_text("8")
            page.reload()
            expect(page.locator(".pledge-table")).to_contain_text("小红")
            expect(page.locator("#poster-preview")).to_have_js_property("complete", True)
            page.screenshot(path=str(ARTIFACTS / "campaign-owner.png"), full_page=True)

            page.goto(f"{base}/campaigns/")
            expect(page.locator(f'[data-campaign="{campaign.pk}"]')).to_have_attribute("data-committed", "2")
            page.screenshot(path=str(ARTIFACTS / "campaign-list.png"), full_page=True)

            # The fan's list of pledges offers a cancel before the deadline.
            fan.goto(f"{base}/me/pledges/")
            expect(fan.locator(f'[data-pledge="{pledge.pk}"]')).to_contain_text("冬季羽绒服团购")
            fan.screenshot(path=str(ARTIFACTS / "campaign-fan-mine.png"), full_page=True)
            card = fan.locator(f'[data-pledge="{pledge.pk}"]')
            card.locator("[data-cancel-box] > summary").click()
            card.locator("input[name=reason]").fill("买重了")
            card.locator("[data-cancel-form] button").click()
            expect(card.locator("[data-pledge-status]")).to_have_text("已取消")
            pledge.refresh_from_db()
            assert pledge.status == "cancelled" and pledge.cancel_reason == "买重了"
            assert errors == []
        finally:
            browser.close()
