"""An owner's controls on a live campaign in a real browser against a real Daphne, at phone and desktop
sizes: close early once the target is reached, extend the deadline once, cancel with refunds."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from preorders.models import Campaign, Pledge
from preorders.services import campaign_create, campaign_launch, pledge_place
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory, VariantFactory

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def live_campaign(*, committed: int) -> tuple[Campaign, list]:
    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product = ProductFactory(shop=shop, name="轻暖羽绒服", price=Decimal("500.00"))
    variant = VariantFactory(product=product, name="M 黑", price=Decimal("500.00"))
    campaign = campaign_create(
        user=owner,
        kind="group",
        product_id=product.pk,
        title="冬季羽绒服团购",
        target_quantity=4,
        cap=10,
        deadline=(timezone.now() + dt.timedelta(days=3)).isoformat(),
        balance_deadline=(timezone.now() + dt.timedelta(days=5)).isoformat(),
        deposit_percent="20",
        tiers=[{"min_quantity": 4, "unit_price": "450.00"}],
    )
    campaign_launch(user=owner, campaign_id=campaign.pk)
    fans = [FanFactory(shop=shop, display_name=f"粉丝{i}") for i in range(committed)]
    for f in fans:
        pledge_place(user=f.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)
    return Campaign.objects.get(pk=campaign.pk), fans


def browser_page(pw, size: str):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    ctx = browser.new_context(
        viewport=SIZES[size], locale="zh-CN", is_mobile=size == "phone", has_touch=size == "phone"
    )
    page = ctx.new_page()
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return browser, page, errors


def no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_owner_closes_early(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    from tests.servers import daphne_server

    campaign, _fans = live_campaign(committed=4)
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser, page, errors = browser_page(pw, size)
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/{campaign.pk}/")
            expect(page.locator("[data-status-badge]").first).to_have_text("进行中")
            button = page.locator("#close-now")
            expect(button).to_have_text("提前成团")
            expect(button).to_be_enabled()
            no_horizontal_scroll(page)
            page.screenshot(path=str(ARTIFACTS / f"campaign-manage-{size}.png"), full_page=True)
            button.click()
            expect(page.locator("[data-status-badge]").first).to_have_class(re.compile("status-succeeded"))
            expect(page.locator("[data-status-badge]").first).not_to_have_text("进行中")
            expect(page.locator("#manage-result")).to_contain_text("尾款")
            expect(page.locator("#campaign-controls")).to_be_hidden()
            assert page.url.endswith(f"/campaigns/{campaign.pk}/")  # no reload, no navigation
            assert errors == []
        finally:
            browser.close()
    campaign.refresh_from_db()
    assert campaign.status == "succeeded" and campaign.closed_early_at is not None
    assert set(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"confirmed"}


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_owner_extends_then_cancels(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    from tests.servers import daphne_server

    campaign, _fans = live_campaign(committed=2)
    announced = campaign.deadline
    with daphne_server() as base, sync_playwright() as pw:
        browser, page, errors = browser_page(pw, size)
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/{campaign.pk}/")
            # Below the target: closing early is not offered yet.
            expect(page.locator("#close-now")).to_be_disabled()
            expect(page.locator("#close-now-hint")).to_be_visible()
            # Two more fans join elsewhere: the live progress enables closing early, without a reload.
            variant = campaign.product.variants.get()
            for f in [FanFactory(shop=campaign.shop) for _ in range(2)]:
                pledge_place(user=f.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)
            expect(page.locator("[data-committed-text]")).to_contain_text("4")
            expect(page.locator("#close-now")).to_be_enabled()
            expect(page.locator("#close-now-hint")).to_be_hidden()
            page.click("#extend-open")
            picker = page.locator("#extend-deadline")
            expect(picker).to_be_visible()
            assert picker.get_attribute("max") > picker.get_attribute("min")
            # Past the 14-day limit: the service's error shows next to the picker and nothing changes.
            too_far = timezone.localtime(announced + dt.timedelta(days=15)).strftime("%Y-%m-%dT%H:%M")
            picker.evaluate("(el, v) => { el.removeAttribute('max'); el.value = v; }", too_far)
            page.click("#extend-submit")
            expect(page.locator("#extend-error")).to_contain_text("14")
            assert Campaign.objects.get(pk=campaign.pk).extended_at is None
            wanted = timezone.localtime(announced + dt.timedelta(days=7)).replace(second=0, microsecond=0)
            picker.fill(wanted.strftime("%Y-%m-%dT%H:%M"))
            page.click("#extend-submit")
            expect(page.locator("#manage-result")).to_contain_text("延期至")
            expect(page.locator("#extend-open")).to_have_count(0)  # once only
            # Cancel: the confirmation says everyone is refunded; "keep" backs out.
            page.click("#cancel-open")
            expect(page.locator("#cancel-form")).to_contain_text("全额")
            page.click("#cancel-form [data-close-form]")
            expect(page.locator("#cancel-form")).to_be_hidden()
            page.click("#cancel-open")
            page.fill("#cancel-reason", "工厂停产")
            no_horizontal_scroll(page)
            page.click("#cancel-confirm")
            expect(page.locator("[data-status-badge]").first).to_have_text("已取消")
            expect(page.locator("#manage-result")).to_contain_text("退")
            page.reload()
            expect(page.locator("[data-status-badge]").first).to_have_text("已取消")
            expect(page.locator("#campaign-controls")).to_have_count(0)
            assert errors == []
        finally:
            browser.close()
    campaign.refresh_from_db()
    assert campaign.deadline <= timezone.now() and campaign.original_deadline == announced
    assert campaign.extended_at is not None and campaign.cancelled_at is not None
    assert campaign.cancel_reason == "工厂停产"
    assert set(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"refunded"}


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_campaign_form_shows_every_error_previews_the_ladder_and_offers_variants(transactional_db, size):
    from playwright.sync_api import expect, sync_playwright

    from tests.servers import daphne_server

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product = ProductFactory(shop=shop, name="轻暖羽绒服", price=Decimal("500.00"))
    black = VariantFactory(product=product, name="M 黑", price=Decimal("500.00"))
    white = VariantFactory(product=product, name="M 白", price=Decimal("500.00"))
    with daphne_server() as base, sync_playwright() as pw:
        browser, page, errors = browser_page(pw, size)
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/new/?shop={shop.pk}&product={product.pk}")
            page.fill("#f-title", "")
            page.fill("#f-target", "0")
            page.fill("#f-cap", "0")
            page.fill("#f-deposit", "150")
            # The ladder preview follows the typing; a tier dearer than the base is flagged at once.
            page.click("#add-tier")
            page.locator("#tier-rows tr").nth(0).locator("[name=min_quantity]").fill("10")
            page.locator("#tier-rows tr").nth(0).locator("[name=unit_price]").fill("550")
            expect(page.locator("#tier-preview li")).to_have_count(2)
            expect(page.locator("#tier-preview li").nth(1)).to_contain_text("满 10 件")
            expect(page.locator("#tier-preview-warning")).to_be_visible()
            page.locator("#tier-rows tr").nth(0).locator("[name=unit_price]").fill("450")
            expect(page.locator("#tier-preview li").nth(1)).to_contain_text("¥450")
            expect(page.locator("#tier-preview-warning")).to_be_hidden()
            page.click("#create-campaign")
            # Every error at once, each under its own field, in Chinese, never a raw field name.
            for field in ("title", "target_quantity", "cap", "deposit_percent"):
                expect(page.locator(f'[data-field="{field}"] .field-errors')).to_be_visible()
            expect(page.locator('[data-field="target_quantity"] .field-errors')).to_contain_text("目标数量")
            assert "target_quantity" not in page.locator("#campaign-form").inner_text()
            no_horizontal_scroll(page)
            page.screenshot(path=str(ARTIFACTS / f"campaign-form-errors-{size}.png"), full_page=True)
            page.fill("#f-title", "冬季羽绒服团购")
            page.fill("#f-target", "10")
            page.fill("#f-cap", "30")
            page.fill("#f-deposit", "20")
            page.uncheck(f'[name="variant"][value="{white.pk}"]')
            page.click("#create-campaign")
            page.wait_for_url("**/campaigns/*/")
            assert errors == []
        finally:
            browser.close()
    campaign = Campaign.objects.get()
    assert campaign.title == "冬季羽绒服团购" and campaign.target_quantity == 10
    assert list(campaign.variants.values_list("pk", flat=True)) == [black.pk]
