"""Fulfilment in a real browser against a real Daphne: the factory records a parcel and uploads a CSV on its
signed board and marks a parcel delivered; the fan confirms receipt and asks for a refund with a photo; the
owner approves one request (refunded through the provider) and declines another with a reason."""

from decimal import Decimal

import pytest
from PIL import Image

from payments.models import LedgerTransaction, SimulatedTransaction
from preorders.api_factory import board_token
from preorders.models import AfterSalesRequest, Shipment
from preorders.services.after_sales import after_sales_request
from preorders.services.fulfilment import shipment_deliver, shipment_record
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import ShopFactory, UserFactory
from tests.preorders.conftest import shop_product
from tests.preorders.test_fulfilment import build_order
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


@pytest.fixture
def flow(transactional_db, django_capture_on_commit_callbacks):
    owner = UserFactory(username="owner", first_name="王店主")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    factory = Factory.objects.create(name="羽绒工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="冬季羽绒服", moq=10, lead_time_days=30, unit_cost=Decimal("200.00")
    )
    FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=5)
    FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=5)
    product, v1, _v2 = shop_product(shop, fp)
    return build_order(owner, shop, product, v1, django_capture_on_commit_callbacks)


def browser_pages(pw):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    errors: list[str] = []

    def page(**kw):
        ctx = browser.new_context(locale="zh-CN", **kw)
        p = ctx.new_page()
        p.set_default_timeout(15000)
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        return p

    return browser, page, errors


def test_factory_board_records_uploads_and_delivers(flow, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    a, b, c, _d = flow.pledges
    token = board_token(flow.order.factory_product.factory)
    csv_file = tmp_path / "shipments.csv"
    csv_file.write_text(
        f"pledge_ids,carrier,tracking_number,shipped_at\n{b.pk},中通,ZT200,\n{flow.lapsed.pk},中通,ZT300,\n",
        encoding="utf-8",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser, new_page, errors = browser_pages(pw)
        try:
            page = new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/factory-board/{token}/")
            order = page.locator(f'[data-order="{flow.order.pk}"]')
            expect(order.locator("[data-line]")).to_have_count(4)
            assert a.fan.display_name not in page.content()
            # Empty selection: the API's message shows on the form.
            order.locator("[name=carrier]").fill("顺丰")
            order.locator("[name=tracking_number]").fill("SF100")
            order.locator("[data-ship-form] button[type=submit]").click()
            expect(order.locator("[data-form-error]")).to_be_visible()
            assert Shipment.objects.count() == 0
            # Tick A's line and record the parcel.
            order.locator(f'[data-line="{a.pk}"] input[name=pledge]').check()
            order.locator("[data-ship-form] button[type=submit]").click()
            expect(order.locator(f'[data-line="{a.pk}"] [data-parcel]')).to_contain_text("SF100")
            expect(order.locator(f'[data-line="{a.pk}"] input[name=pledge]')).to_be_disabled()
            shipment = Shipment.objects.get()
            assert shipment.tracking_number == "SF100" and list(
                shipment.items.values_list("pledge_id", flat=True)
            ) == [a.pk]
            # The CSV: one good row, one refused (the lapsed pledge).
            order.locator("[data-import-form] input[type=file]").set_input_files(str(csv_file))
            order.locator("[data-import-form] button[type=submit]").click()
            result = order.locator("[data-import-result]")
            expect(result.locator(".import-created")).to_contain_text("1")
            expect(result.locator('[data-code="pledge_not_paid"]')).to_have_attribute("data-row", "3")
            expect(order.locator(f'[data-line="{b.pk}"] [data-parcel]')).to_contain_text("ZT200")
            assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == ["SF100", "ZT200"]
            page.screenshot(path=str(ARTIFACTS / "fulfilment-board.png"), full_page=True)
            # The carrier says A's parcel arrived; C's line is still to ship.
            order.locator(f'[data-line="{a.pk}"] [data-shipment-action="deliver"]').click()
            expect(order.locator(f'[data-line="{a.pk}"]')).to_have_attribute(
                "data-parcel-status", "delivered"
            )
            shipment.refresh_from_db()
            assert shipment.status == "delivered" and shipment.delivered_at is not None
            order.locator(f'[data-line="{b.pk}"] [data-shipment-action="lost"]').click()
            # A lost parcel's line is back to ship.
            expect(order.locator(f'[data-line="{b.pk}"]')).to_have_attribute("data-parcel-status", "")
            expect(order.locator(f'[data-line="{b.pk}"] input[name=pledge]')).to_be_enabled()
            assert Shipment.objects.get(tracking_number="ZT200").status == "lost"
            expect(order.locator(f'[data-line="{c.pk}"] input[name=pledge]')).to_be_enabled()
            assert errors == []
        finally:
            browser.close()


def png(tmp_path):
    path = tmp_path / "broken.png"
    Image.new("RGB", (40, 30), (180, 30, 30)).save(path, "PNG")
    return path


def test_fan_confirms_and_asks_owner_approves_and_declines(flow, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    a, b = flow.pledges[0], flow.pledges[1]
    shipments = {}
    for p in (a, b):
        s = shipment_record(
            order_id=flow.order.pk, pledges=[p.pk], carrier="顺丰", tracking_number=f"SF{p.pk}"
        )
        shipment_deliver(shipment_id=s.pk)
        shipments[p.pk] = s
    other = after_sales_request(user=b.user, pledge_id=b.pk, kind="return", reason="颜色不对")

    with daphne_server() as base, sync_playwright() as pw:
        browser, new_page, errors = browser_pages(pw)
        try:
            fan = new_page(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
            log_in(fan, base, a.user.username)
            # From "my orders", the parcel's link leads to receipt and after-sales.
            fan.goto(f"{base}/me/orders/")
            fan.locator(f"#pledge-{a.pk} [data-after-sales-link]").click()
            fan.wait_for_url(f"**/me/orders/{a.pk}/after-sales/")
            parcel = fan.locator(f'[data-shipment="{shipments[a.pk].pk}"]')
            parcel.locator("[data-confirm]").click()
            expect(fan.locator(f'[data-shipment="{shipments[a.pk].pk}"] [data-confirm]')).to_have_count(0)
            shipments[a.pk].refresh_from_db()
            assert shipments[a.pk].confirmed_by == "fan"
            # Ask for part of the money back, with a photo.
            fan.fill("#as-reason", "拉链坏了")
            fan.fill("#as-amount", "200")
            fan.set_input_files("#as-photo", str(png(tmp_path)))
            fan.click("#after-sales-submit")
            expect(fan.locator("[data-request]")).to_have_count(1)
            expect(fan.locator("#after-sales-waiting")).to_be_visible()
            mine = AfterSalesRequest.objects.get(pledge=a)
            assert mine.amount == Decimal("200.00") and mine.kind == "refund" and mine.photo
            fan.screenshot(path=str(ARTIFACTS / "fulfilment-fan.png"), full_page=True)

            owner = new_page(viewport={"width": 1280, "height": 900})
            log_in(owner, base, "owner")
            owner.goto(f"{base}/campaigns/{flow.campaign.pk}/")
            owner.click("#after-sales-link")
            owner.wait_for_url(f"**/campaigns/{flow.campaign.pk}/after-sales/")
            expect(owner.locator("[data-request]")).to_have_count(2)
            expect(owner.locator(f'[data-request="{mine.pk}"] img.after-sales-photo')).to_have_js_property(
                "complete", True
            )
            # Approve A's request: the refund goes out through the provider.
            owner.locator(f'[data-request="{mine.pk}"] [data-decide="approve"]').click()
            expect(owner.locator(f'[data-request="{mine.pk}"]')).to_have_attribute("data-status", "approved")
            mine.refresh_from_db()
            assert mine.status == "approved" and mine.credit.paid_out
            assert SimulatedTransaction.objects.filter(
                kind="refund", reference=mine.credit.reference
            ).exists()
            assert LedgerTransaction.objects.filter(
                kind="after_sales_refund", reference=mine.credit.reference
            ).exists()
            # Decline B's: a reason is needed first.
            card = owner.locator(f'[data-request="{other.pk}"]')
            card.locator('[data-decide="decline"]').click()
            other.refresh_from_db()
            assert other.status == "open"
            card.locator("input[name=reason]").fill("已过退货条件")
            card.locator('[data-decide="decline"]').click()
            expect(card).to_have_attribute("data-status", "declined")
            expect(card.locator("[data-decision-text]")).to_have_text("已过退货条件")
            other.refresh_from_db()
            assert other.status == "declined" and other.decision_reason == "已过退货条件"
            owner.screenshot(path=str(ARTIFACTS / "fulfilment-owner.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
