"""A new owner's first five minutes in a real browser, at phone and desktop sizes: sign up, create the shop,
add a product with two variants, create and launch a campaign through the campaign form, download its
poster, and watch the inbox's checklist tick itself."""

import re
import time

import pytest

from preorders.models import Campaign, CampaignStatus
from shops.models import Product, Shop, ShopMember, ShopMilestone, ShopRole
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.factories import PASSWORD
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@pytest.mark.parametrize("size", list(SIZES))
def test_new_owner_shop_product_campaign_poster(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    slug = f"xiaohong-{size}"
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(locale="zh-CN", accept_downloads=True, **SIZES[size])
        page = ctx.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        started = time.monotonic()
        try:
            # A visitor with no account finds "open your shop" and signs up.
            page.goto(f"{base}/signup/owner/")
            page.fill("#id_username", f"xiaohong_{size}")
            page.fill("#id_display_name", "小红")
            page.fill("#id_password1", PASSWORD)
            page.fill("#id_password2", PASSWORD)
            page.click("#signup-submit")
            page.wait_for_url("**/shop/new/")

            # The shop: a taken address is flagged while typing, a free one is accepted.
            page.fill("#id_name", "小红美妆")
            page.fill("#id_slug", "ab")
            expect(page.locator("#slug-status")).to_have_class(re.compile("slug-bad"))
            page.fill("#id_slug", slug)
            expect(page.locator("#slug-status")).to_have_class(re.compile("slug-ok"))
            expect(page.locator("#id_timezone")).to_have_value("Asia/Shanghai")
            page.screenshot(path=str(ARTIFACTS / f"owner-shop-new-{size}.png"), full_page=True)
            page.click("#shop-submit")
            page.wait_for_url(re.compile(r".*/products/new/\?shop=\d+&welcome=1$"))
            shop = Shop.objects.get(slug=slug)
            assert ShopMember.objects.filter(
                shop=shop, user__username=f"xiaohong_{size}", role=ShopRole.OWNER
            ).exists()

            # A product with two variants: one row is there, the second is added, an extra one removed.
            page.fill("#id_name", "玻尿酸精华")
            page.select_option("#id_category", "beauty")
            page.fill("#id_price", "129")
            rows = page.locator("#variant-rows .variant-row")
            rows.nth(0).locator("[name=variant_name]").fill("30ml")
            rows.nth(0).locator("[name=variant_sku]").fill(f"HA-30-{size}")
            page.click("#variant-add")
            rows.nth(1).locator("[name=variant_name]").fill("50ml")
            rows.nth(1).locator("[name=variant_price]").fill("169")
            page.click("#variant-add")
            expect(rows).to_have_count(3)
            rows.nth(2).locator("[data-remove-variant]").click()
            expect(rows).to_have_count(2)
            page.screenshot(path=str(ARTIFACTS / f"owner-product-new-{size}.png"), full_page=True)
            page.click("#product-submit")

            # The first product goes straight on to the campaign form, the product chosen.
            page.wait_for_url(re.compile(r".*/campaigns/new/\?shop=\d+&product=\d+$"))
            product = Product.objects.get(shop=shop)
            assert sorted(product.variants.values_list("name", flat=True)) == ["30ml", "50ml"]
            page.fill("#f-title", "精华团购")
            page.fill("#f-target", "10")
            page.fill("#f-cap", "50")
            page.click("#add-tier")
            page.locator("#tier-rows tr").nth(0).locator("[name=min_quantity]").fill("10")
            page.locator("#tier-rows tr").nth(0).locator("[name=unit_price]").fill("99")
            page.click("#create-campaign")
            page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
            page.click("#launch-campaign")
            expect(page.locator("[data-status-badge]").first).to_have_text("进行中")
            campaign = Campaign.objects.get(shop=shop)
            assert campaign.status == CampaignStatus.LIVE

            # The poster: downloading it is sharing it.
            with page.expect_download() as download:
                page.click("#poster-download")
            assert download.value.suggested_filename == f"campaign-{campaign.pk}.png"
            assert ShopMilestone.objects.filter(shop=shop, key="poster_shared").exists()

            # The inbox is empty of fans: its checklist shows three steps ticked, the fourth waiting.
            page.goto(f"{base}/inbox/")
            checklist = page.locator("#onboarding-checklist")
            expect(checklist).to_be_visible()
            for key in ("product", "campaign", "poster"):
                expect(checklist.locator(f'[data-step="{key}"]')).to_have_attribute("data-done", "1")
            expect(checklist.locator('[data-step="fan"]')).to_have_attribute("data-done", "0")
            elapsed = time.monotonic() - started
            page.screenshot(path=str(ARTIFACTS / f"owner-checklist-{size}.png"), full_page=True)
            print(
                f"\n[{size}] new owner to a live campaign with its poster shared: {elapsed:.1f} s of clicks"
            )
            assert elapsed < 120, "the first campaign should take well under 5 minutes of clicks"

            # Products are in the staff nav (every item reachable at this size).
            page.goto(f"{base}/products/")
            expect(page.locator(f'[data-product="{product.pk}"]')).to_contain_text(f"HA-30-{size}")
            assert errors == []
        finally:
            browser.close()


def test_owner_picks_from_catalogue_edits_and_takes_off_sale_on_a_phone(transactional_db):
    from decimal import Decimal

    from playwright.sync_api import expect, sync_playwright

    from shops.models import Factory, FactoryProduct, FactoryVariant
    from tests.browser.helpers import log_in
    from tests.factories import ShopFactory, UserFactory

    owner = UserFactory(username="pickowner")
    shop = ShopFactory(owner=owner, name="橙子小铺", slug="orange-shop")
    fp = FactoryProduct.objects.create(
        factory=Factory.objects.create(name="赣南果园"),
        name="赣南脐橙",
        unit_cost=Decimal("25"),
        category="fruit",
        retail_price_min=Decimal("45"),
        retail_price_max=Decimal("69"),
    )
    FactoryVariant.objects.create(factory_product=fp, name="5 斤装", sku="F-OR-5")
    FactoryVariant.objects.create(factory_product=fp, name="10 斤装", sku="F-OR-10")
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-CN", **SIZES["phone"]).new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            log_in(page, base, "pickowner")
            page.goto(f"{base}/products/")
            page.click("#product-add")
            page.click("#tab-pick")
            item = page.locator(f'[data-factory-product="{fp.pk}"]')
            expect(item).to_contain_text("¥45.00 – ¥69.00")
            # Above the platform's bound: refused next to the item, nothing stored.
            item.locator("input[name=price]").fill("99")
            item.locator("button[type=submit]").click()
            item = page.locator(f'[data-factory-product="{fp.pk}"]')
            expect(item.locator(".field-errors")).to_contain_text("¥45.00")
            assert not Product.objects.filter(shop=shop).exists()
            item.locator("input[name=price]").fill("59")
            item.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(r".*/campaigns/new/.*"))
            product = Product.objects.get(shop=shop)
            assert product.factory_product == fp and product.price == Decimal("59.00")

            # Edit: drop the 10-jin variant and rename the product.
            page.goto(f"{base}/products/")
            card = page.locator(f'[data-product="{product.pk}"]')
            card.locator(f'a[href="/products/{product.pk}/edit/"]').click()
            page.fill("#id_name", "赣南脐橙（产地直发）")
            page.locator(".variant-row", has=page.locator('[value="10 斤装"]')).locator(
                "[data-remove-variant]"
            ).click()
            page.click("#product-submit")
            page.wait_for_url(re.compile(r".*/products/\?shop=\d+$"))
            product.refresh_from_db()
            assert product.name == "赣南脐橙（产地直发）"
            assert list(product.variants.filter(is_available=True).values_list("name", flat=True)) == [
                "5 斤装"
            ]
            page.screenshot(path=str(ARTIFACTS / "owner-products-phone.png"), full_page=True)

            # Take off sale (confirmed in a dialog).
            page.locator(f'[data-product="{product.pk}"] form[data-confirm] button').click()
            expect(page.locator(f'[data-product="{product.pk}"]')).to_have_class(re.compile("retired"))
            product.refresh_from_db()
            assert product.is_available is False
            assert errors == []
        finally:
            browser.close()
