"""A fan changes a pledge on "my pledges" in headless Chromium against a real Daphne, on a phone and a desktop:
the deposit difference is quoted before confirming, the cancel dialog says the refund, and a skipped box is
still there after a reload."""

from decimal import Decimal

import pytest

from payments.ledger import pledge_cash, unbalanced_transactions
from preorders.models import Pledge
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.mark.parametrize("size", SIZES)
def test_fan_changes_a_pledge_cancels_with_the_refund_shown_and_skips_a_box(
    transactional_db, require_services, size
):
    from playwright.sync_api import expect, sync_playwright

    from preorders.services import pledge_place

    shop = ShopFactory(name="暖冬小铺", slug="warm-pledges")
    product, v_l, v_m = shop_product(shop)  # ¥500 a unit, L and M
    group = make_campaign(shop.owner, product, title="羽绒服团购")  # 10% deposit, at most 5 each
    weekly = make_campaign(
        shop.owner,
        product,
        kind="subscription",
        cadence="weekly",
        cycles=None,
        cutoff_hours=24,
        tiers=[],
        cap=None,
        title="每周鲜花",
    )
    fan = FanFactory(shop=shop, user=UserFactory(username="pledger"))
    pledge_id = pledge_place(user=fan.user, campaign_id=group.pk, variant_id=v_l.pk, quantity=2)[0]["id"]
    sub_id = pledge_place(user=fan.user, campaign_id=weekly.pk, variant_id=v_l.pk, quantity=1)[0]["id"]

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "pledger")
            # From the campaign page's "my pledges here" to this pledge's change dialog, open.
            page.goto(f"{base}/c/{group.pk}/")
            page.click("[data-change-link]")
            page.wait_for_url(f"**/me/pledges/#pledge-{pledge_id}")
            card = page.locator(f'[data-pledge="{pledge_id}"]')
            expect(card.locator("[data-change-box]")).to_have_attribute("open", "")
            expect(card.locator("[data-pledge-status]")).to_have_text("已参团")
            expect(card.locator("[data-shop-link]")).to_have_attribute("href", "/s/warm-pledges/")

            # Up: 4 × M, ¥100 more deposit, quoted before confirming.
            expect(card.locator("[data-change-quote]")).to_have_text("请选择新的数量或规格。")
            expect(card.locator("[data-change-confirm]")).to_be_disabled()
            card.locator(f'input[name=variant][value="{v_m.pk}"] + span').click()
            card.locator('[data-step="1"]').click()
            card.locator('[data-step="1"]').click()
            expect(card.locator("[data-change-quote]")).to_have_text("需补定金 ¥100")
            assert Pledge.objects.get(pk=pledge_id).quantity == 2  # nothing changes before the confirm
            card.locator("[data-change-confirm]").click()
            expect(card.locator("[data-note]")).to_have_text("已修改，已补付定金 ¥100。")
            expect(card.locator("[data-line]")).to_have_text("4 × M")
            expect(card.locator("[data-deposit]")).to_have_text("200.00")
            pledge = Pledge.objects.get(pk=pledge_id)
            assert (pledge.quantity, pledge.variant_id, pledge.deposit_amount) == (
                4,
                v_m.pk,
                Decimal("200.00"),
            )
            assert pledge_cash(pledge_id) == Decimal("200.00")

            # Down to 3: the refund and its timing, before confirming.
            card.locator("[data-change-box] > summary").click()
            card.locator('[data-step="-1"]').click()
            expect(card.locator("[data-change-quote]")).to_have_text("将退还 ¥50，1–3 个工作日原路退回。")
            card.locator("[data-change-confirm]").click()
            expect(card.locator("[data-note]")).to_have_text("已修改。将退还 ¥50，1–3 个工作日原路退回。")
            expect(card.locator("[data-line]")).to_have_text("3 × M")
            assert pledge_cash(pledge_id) == Decimal("150.00")

            # Over the limit: the quote refuses, inline, and the confirm stays off.
            card.locator("[data-change-box] > summary").click()
            card.locator("[name=quantity]").fill("9")
            expect(card.locator("[data-change-error]")).to_contain_text("5")
            expect(card.locator("[data-change-confirm]")).to_be_disabled()
            card.locator("[data-change-box] > summary").click()

            # Cancel: the dialog says what comes back and when; the answer says it again.
            card.locator("[data-cancel-box] > summary").click()
            expect(card.locator("[data-cancel-quote]")).to_have_text("将退还 ¥150，1–3 个工作日原路退回。")
            card.locator("[data-cancel-form] button[type=submit]").click()
            expect(card.locator("[data-pledge-status]")).to_have_text("已取消")
            expect(card.locator("[data-note]")).to_have_text("已取消。将退还 ¥150，1–3 个工作日原路退回。")
            assert Pledge.objects.get(pk=pledge_id).status == "cancelled"
            assert pledge_cash(pledge_id) == Decimal("0.00")

            # A subscription: the word is its own, and a skipped box survives a reload.
            sub = page.locator(f'[data-pledge="{sub_id}"]')
            expect(sub.locator("[data-pledge-status]")).to_have_text("订阅中")
            sub.locator("[data-action=skip]").click()
            expect(sub.locator('[data-skip="1"]')).to_have_text("第 1 期已跳过")
            page.reload()
            sub = page.locator(f'[data-pledge="{sub_id}"]')
            expect(sub.locator('[data-skip="1"]')).to_contain_text("第 1 期（")
            expect(sub.locator("[data-next-delivery]")).to_be_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= SIZES[size]["width"], width
            assert errors == [], errors
        finally:
            browser.close()
    assert unbalanced_transactions() == []
