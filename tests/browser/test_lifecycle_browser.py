"""The lifecycle section of the shop settings page: save thresholds, recompute now (the task runs, the bars and
the "last computed" line update), and the fan profile showing the computed tags read-only with a badge."""

import datetime as dt

import pytest
from django.utils import timezone

from fans.chat.models import Fan
from fans.crm.models import FanTag, LifecycleSettings
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_owner_saves_thresholds_and_recomputes_lifecycle_tags(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fresh = [FanFactory(shop=shop) for _ in range(2)]
    old = FanFactory(shop=shop)
    Fan.objects.filter(pk=old.pk).update(joined_at=timezone.now() - dt.timedelta(days=200))
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(20000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/bot/?shop={shop.pk}")
            expect(page.locator("#lifecycle-computed")).to_have_text("尚未计算")
            page.fill("#lc-risk", "100")  # not before lapsed (90): refused, nothing saved
            page.click("#lifecycle-save")
            page.wait_for_function(
                "document.querySelector('[data-toast]') && !document.querySelector('[data-toast]').hidden"
            )
            assert LifecycleSettings.objects.get(shop=shop).at_risk_after_days == 45
            page.fill("#lc-risk", "30")
            page.fill("#lc-lapsed", "150")
            page.fill("#lc-vip", "20")
            page.click("#lifecycle-save")
            expect(page.locator("#lifecycle-status")).to_contain_text("已保存")
            row = LifecycleSettings.objects.get(shop=shop)
            assert (row.at_risk_after_days, row.lapsed_after_days, row.vip_percentile) == (30, 150, 20)

            page.click("#lifecycle-recompute")
            expect(page.locator("#lifecycle-status")).to_contain_text("3")
            expect(page.locator('#lifecycle-bars li[data-code="new"] [data-count]')).to_have_text("2")
            expect(page.locator('#lifecycle-bars li[data-code="lapsed"] [data-count]')).to_have_text("1")
            expect(page.locator("#lifecycle-computed")).not_to_have_text("尚未计算")
            assert FanTag.objects.filter(fan=old, tag__code="lapsed", source="system").exists()
            assert all(FanTag.objects.filter(fan=f, tag__code="new").exists() for f in fresh)

            page.goto(f"{base}/fans/{old.pk}/")
            expect(page.locator(".held-tags li[data-system] .badge-system")).to_have_count(1)
            expect(page.locator('[data-fan-tag="lifecycle:lapsed"]')).to_have_count(0)
            page.goto(f"{base}/fans/?shop={shop.pk}")
            expect(page.locator("fieldset[data-system] .badge-system")).to_have_count(1)
            expect(page.locator('#bulk-tag option[value^="lifecycle:"]')).to_have_count(0)
        finally:
            browser.close()
    assert not errors, errors
