"""AQ 预判 in a real browser on a phone: the forecast on a draft campaign, forecast against actual once closed,
and the campaign page's link to the factory insight report."""

import datetime as dt

import pytest
from django.utils import timezone

from c2m.forecast.services import forecasts_snapshot_due
from preorders.models import Campaign, CampaignStatus
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.c2m.forecast_helpers import fans_with, past_campaign, pledge, tag
from tests.factories import ShopFactory, UserFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_owner_sees_the_forecast_on_a_draft_and_against_actual_after_the_close(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fans = fans_with(shop, 40, [tag("oily").pk])
    past_campaign(owner, shop, [(f, "L") for f in fans[:12]])
    product, v_l, v_m = shop_product(shop)
    draft = make_campaign(owner, product, launch=False)
    closed = make_campaign(owner, product)
    forecasts_snapshot_due()
    for f in fans[:5]:
        pledge(closed, f, v_l, 1)
    Campaign.objects.filter(pk=closed.pk).update(
        status=CampaignStatus.SUCCEEDED, deadline=timezone.now() - dt.timedelta(minutes=1)
    )
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
            page.goto(f"{base}/campaigns/{draft.pk}/")
            card = page.locator("#forecast-card")
            expect(card.locator("h2")).to_contain_text("上线前预判")
            expect(card.locator(f'#forecast-chart g[data-variant="{v_l.pk}"] .forecast-band')).to_be_visible()
            expect(
                card.locator(f'#forecast-table tr[data-variant="{v_m.pk}"] [data-interval]')
            ).to_contain_text("–")
            assert page.locator("#forecast-table [data-actual]").count() == 0
            assert page.locator("#insight-card").count() == 0  # a draft has no pledgers to report on
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            page.screenshot(path=str(ARTIFACTS / "c2m-forecast-draft-390.png"), full_page=True)

            page.goto(f"{base}/campaigns/{closed.pk}/")
            expect(card.locator("h2")).to_contain_text("预判与实际")
            expect(card.locator(f'#forecast-table tr[data-variant="{v_l.pk}"] [data-actual]')).to_have_text(
                "5"
            )
            expect(card.locator(f'g[data-variant="{v_l.pk}"] .forecast-actual')).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            page.screenshot(path=str(ARTIFACTS / "c2m-forecast-closed-390.png"), full_page=True)

            page.locator("#insight-open").click()
            page.wait_for_url(f"{base}/campaigns/{closed.pk}/insight/")
            expect(page.locator("#insight-floor")).to_be_visible()  # 5 pledgers: under k, so hidden
            expect(page.locator("#insight-no-demand")).to_be_visible()
        finally:
            browser.close()
    assert errors == []
