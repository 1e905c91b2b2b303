"""Settlement in a real browser against a real Daphne: the new money-term fields on the creation form, the
MOQ-shortfall buttons, the settlement links and every CSV export (owner and factory)."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.translation import override

from payments.models import Account
from preorders.api_factory import board_token
from preorders.models import Campaign, CampaignStatus, FactoryOrder, LapseRule, Pledge, PledgeStatus
from preorders.services import campaign_close, factory_order_transition, pledge_place
from preorders.services.balance import balance_lapse_run, balance_pay
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory, VariantFactory
from tests.preorders.conftest import make_campaign
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def jacket(shop, *, moq=10, variant_moq=5):
    factory = Factory.objects.create(name="羽绒工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="冬季羽绒服", moq=moq, lead_time_days=30, unit_cost=Decimal("200.00")
    )
    fv_m = FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=variant_moq)
    fv_l = FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=variant_moq)
    product = ProductFactory(shop=shop, name="轻暖羽绒服", price=Decimal("500.00"), factory_product=fp)
    v_m = VariantFactory(product=product, name="M 黑", price=Decimal("500.00"), factory_variant=fv_m)
    v_l = VariantFactory(product=product, name="L 黑", price=Decimal("500.00"), factory_variant=fv_l)
    return product, v_l, v_m


def after_balance_deadline(campaign: Campaign, *, pay: list[Pledge]) -> Campaign:
    """Close, let `pay` pay their balance, then pass the balance deadline: unpaid pledges lapse."""
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    assert campaign_close(campaign_id=campaign.pk) == CampaignStatus.SUCCEEDED
    for pledge in pay:
        balance_pay(user=pledge.user, pledge_id=pledge.pk, idempotency_key=None)
        pledge.refresh_from_db()
        assert pledge.status == PledgeStatus.PAID
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        deadline=now - dt.timedelta(seconds=2), balance_deadline=now - dt.timedelta(seconds=1)
    )
    assert balance_lapse_run(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def place(shop, campaign, variant, quantity, name) -> Pledge:
    fan = FanFactory(shop=shop, display_name=name)
    body, _ = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=quantity)
    return Pledge.objects.get(pk=body["id"])


def short_campaign(shop, product, v_l, v_m, title) -> Campaign:
    """L 5 paid, M 5 lapsed: 5 paid units against the factory's MOQ of 10."""
    campaign = make_campaign(shop.owner, product, title=title, cap=None, per_fan_limit=None, tiers=[])
    payer = place(shop, campaign, v_l, 5, f"{title}-付款")
    place(shop, campaign, v_m, 5, f"{title}-未付")
    campaign = after_balance_deadline(campaign, pay=[payer])
    # The product under its MOQ of 10; the unpaid M line under its own (when the variant has one).
    assert campaign.moq_shortfall["*"] == {"paid": 5, "moq": 10}
    return campaign


def downloaded_csv(page, selector: str) -> list[list[str]]:
    with page.expect_download() as info:
        page.click(selector)
    path = info.value.path()
    with open(path, encoding="utf-8-sig") as f:
        return list(csv.reader(io.StringIO(f.read())))


def browser_context(pw):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
    )
    return browser, context


def test_creation_form_money_terms(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product, _v_l, _v_m = jacket(shop)
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser, context = browser_context(pw)
        page = context.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/new/?shop={shop.pk}&product={product.pk}")
            deadline = page.input_value("#f-deadline")
            # Defaults: balance deadline = deadline + 3 days; ship-by = that + 30 days' lead time + 3 days.
            as_date = lambda v: dt.datetime.strptime(v, "%Y-%m-%dT%H:%M")  # noqa: E731
            assert as_date(page.input_value("#f-balance-deadline")) - as_date(deadline) == dt.timedelta(
                days=3
            )
            assert as_date(page.input_value("#f-ship-by")) - as_date(deadline) == dt.timedelta(days=36)
            expect(page.locator("#f-compensation")).to_have_value("5")
            # Moving the deadline moves both defaults the owner has not touched.
            page.fill("#f-deadline", "2030-01-10T20:00")
            page.dispatch_event("#f-deadline", "change")
            expect(page.locator("#f-balance-deadline")).to_have_value("2030-01-13T20:00")
            expect(page.locator("#f-ship-by")).to_have_value("2030-02-15T20:00")
            # The real deadline: 10 days ahead; no balance deadline below a 100% deposit is refused.
            start = (timezone.localtime() + dt.timedelta(days=10)).replace(second=0, microsecond=0)
            page.fill("#f-deadline", start.strftime("%Y-%m-%dT%H:%M"))
            page.dispatch_event("#f-deadline", "change")
            page.fill("#f-balance-deadline", "")
            page.click("#create-campaign")
            expect(page.locator('[data-field="balance_deadline"] .field-errors')).to_be_visible()
            assert not Campaign.objects.exists()
            # A full deposit needs none: the "required" note goes away.
            page.fill("#f-deposit", "100")
            expect(page.locator("[data-balance-required]")).to_be_hidden()
            page.fill("#f-deposit", "20")
            expect(page.locator("[data-balance-required]")).to_be_visible()
            balance = start + dt.timedelta(days=4)
            page.fill("#f-balance-deadline", balance.strftime("%Y-%m-%dT%H:%M"))
            page.select_option("#f-lapse-rule", "refund")
            page.fill("#f-ship-by", "")  # left empty: the service's default
            page.fill("#f-compensation", "7.5")
            page.screenshot(path=str(ARTIFACTS / "campaign-new-money-terms.png"), full_page=True)
            page.click("#create-campaign")
            page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
            campaign = Campaign.objects.get()
            assert campaign.lapse_rule == LapseRule.REFUND
            assert campaign.late_compensation_percent == Decimal("7.5")
            assert campaign.balance_deadline == balance
            assert campaign.ship_by == balance + dt.timedelta(days=33)
            expect(page.locator(".facts")).to_contain_text("7.50%")
            # A subscription has no balance deadline: the group-only fields hide.
            page.goto(f"{base}/campaigns/new/?shop={shop.pk}&product={product.pk}")
            page.check('[name="kind"][value="subscription"]')
            expect(page.locator('[data-field="balance_deadline"]')).to_be_hidden()
            expect(page.locator('[data-field="ship_by"]')).to_be_hidden()
            expect(page.locator('[data-field="late_compensation_percent"]')).to_be_visible()
            assert errors == []
        finally:
            browser.close()


def test_moq_decision_buttons(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product, v_l, v_m = jacket(shop)
    shipping = short_campaign(shop, product, v_l, v_m, "照发团")
    cancelling = short_campaign(shop, product, v_l, v_m, "取消团")
    with daphne_server() as base, sync_playwright() as pw:
        browser, context = browser_context(pw)
        page = context.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        dialogs: list[str] = []

        def accept(dialog):
            dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/{shipping.pk}/")
            expect(page.locator("#moq-shortfall")).to_contain_text("10")
            page.screenshot(path=str(ARTIFACTS / "campaign-moq-shortfall.png"), full_page=True)
            page.click("#moq-ship-anyway")
            expect(page.locator("[data-moq-decision]")).to_have_attribute("data-moq-decision", "ship_anyway")
            expect(page.locator("#moq-shortfall")).to_have_count(0)
            assert "起订量" in dialogs[-1]
            order = FactoryOrder.objects.get(sources__campaign=shipping)
            assert order.lines.get().quantity == 5

            page.goto(f"{base}/campaigns/{cancelling.pk}/")
            page.click("#moq-cancel")
            expect(page.locator("[data-moq-decision]")).to_have_attribute("data-moq-decision", "cancel")
            assert "全额退款" in dialogs[-1]
            cancelling.refresh_from_db()
            assert cancelling.status == CampaignStatus.FAILED
            assert set(Pledge.objects.filter(campaign=cancelling).values_list("status", flat=True)) == {
                PledgeStatus.REFUNDED,
                PledgeStatus.LAPSED,
            }
            expect(page.locator("[data-status-badge]").first).to_have_text("未成团")
            assert errors == []
        finally:
            browser.close()


def test_settlement_links_and_csv_exports(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product, v_l, v_m = jacket(shop, moq=5, variant_moq=0)
    campaign = make_campaign(owner, product, title="结算团", cap=None, per_fan_limit=None, tiers=[])
    payers = [place(shop, campaign, v_l, 4, "小红"), place(shop, campaign, v_m, 3, "小明")]
    place(shop, campaign, v_m, 3, "小刚")  # does not pay: 150.00 forfeited
    campaign = after_balance_deadline(campaign, pay=payers)
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    factory_order_transition(order_id=order.pk, status="sent")
    token = board_token(product.factory_product.factory)

    with daphne_server() as base, sync_playwright() as pw:
        browser, context = browser_context(pw)
        page = context.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/{campaign.pk}/")
            # The funnel: 10 pledged, 7 paid, 3 lapsed; shipments not recorded yet.
            expect(page.locator('#funnel [data-step="pledged"]')).to_have_attribute("data-value", "10")
            expect(page.locator('#funnel [data-step="paid"]')).to_have_attribute("data-value", "7")
            expect(page.locator('#funnel [data-step="lapsed"]')).to_have_attribute("data-value", "3")
            expect(page.locator("#late-risk")).to_contain_text("7")
            # 7 × 500 paid; factory 7 × 200.00; fee 2% of 3500.00; shop 3500 + 150 − 1400 − 70.
            expect(page.locator('#settlement-summary [data-figure="payable_to_factory"]')).to_contain_text(
                "1400.00"
            )
            expect(page.locator('#settlement-summary [data-figure="payable_to_shop"]')).to_contain_text(
                "2180.00"
            )
            page.screenshot(path=str(ARTIFACTS / "campaign-owner-panels.png"), full_page=True)
            rows = downloaded_csv(page, "#settlement-csv-link")
            assert rows[0][:3] == ["日期（店铺时间）", "类型", "kind_code"] and rows[-1][0] == "合计"
            assert "release" in [r[2] for r in rows]

            page.click("#settlement-link")
            page.wait_for_url(f"**/campaigns/{campaign.pk}/settlement/")
            expect(page.locator('[data-figure="platform_fee"]')).to_contain_text("70.00")
            expect(page.locator('[data-balanced="true"]')).to_be_visible()
            expect(page.locator('#settlement-breakdown [data-kind="release"]')).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "campaign-settlement.png"), full_page=True)
            rows = downloaded_csv(page, "#settlement-csv")
            header = rows[0]
            total = dict(zip(header, rows[-1], strict=True))
            with override("zh-hans"):
                labels = {code: str(label) for code, label in Account.choices}
            assert total[labels["factory_payable"]] == "-1400.00" and total[labels["fans_held"]] == "0.00"

            # The owner nav leads to the shop's statement, and back to the campaign's.
            page.click(".staff-nav >> text=结算")
            page.wait_for_url("**/shop/settlement/**")
            expect(page.locator(f'#shop-settlement-table [data-campaign="{campaign.pk}"]')).to_contain_text(
                "3650.00"
            )
            page.screenshot(path=str(ARTIFACTS / "shop-settlement.png"), full_page=True)
            rows = downloaded_csv(page, "#shop-settlement-csv")
            by_id = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
            assert by_id[str(campaign.pk)]["应付店铺"] == "2180.00"
            assert by_id["合计"]["没收的定金"] == "150.00"
            page.click(f'[data-campaign="{campaign.pk}"] [data-settlement-link]')
            page.wait_for_url(f"**/campaigns/{campaign.pk}/settlement/")

            # The factory's board, through its signed link (no login): its statement and CSV, no fans.
            board = context.new_page()
            board.goto(f"{base}/factory-board/{token}/")
            expect(board.locator("#factory-statement-table")).to_contain_text("1400.00")
            board.screenshot(path=str(ARTIFACTS / "factory-board-statement.png"), full_page=True)
            rows = downloaded_csv(board, "#factory-statement-csv")
            assert rows[1][0] == f"FO-{order.pk}" and rows[1][7] == "7" and rows[1][8] == "1400.00"
            text = "\n".join(",".join(r) for r in rows) + board.content()
            for name in ("小红", "小明", "小刚"):
                assert name not in text
            assert errors == []
        finally:
            browser.close()


def test_fan_joins_the_waitlist_and_the_owner_tops_up(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    from preorders.models import WaitlistEntry

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="暖冬小铺", slug="warm-shop", owner=owner)
    product, v_l, v_m = jacket(shop, variant_moq=0)
    campaign = make_campaign(owner, product, title="候补团", cap=None, per_fan_limit=None, tiers=[])
    payer = place(shop, campaign, v_l, 5, "付款")
    place(shop, campaign, v_m, 5, "未付")
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    campaign_close(campaign_id=campaign.pk)
    waiter = FanFactory(shop=shop, user=UserFactory(username="waiter"), display_name="候补")
    with daphne_server() as base, sync_playwright() as pw:
        browser, context = browser_context(pw)
        page = context.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        try:
            # The campaign closed, no factory order yet: a fan queues from the campaign page.
            log_in(page, base, "waiter")
            page.goto(f"{base}/c/{campaign.pk}/")
            page.click("#waitlist-submit")
            expect(page.locator("#waitlist-note")).to_be_visible()
            assert WaitlistEntry.objects.get(campaign=campaign).user_id == waiter.user_id
            # The balance deadline passes with M unpaid: 5 paid against the MOQ of 10; the owner tops up.
            after_balance_deadline(Campaign.objects.get(pk=campaign.pk), pay=[payer])
            page.context.clear_cookies()
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/{campaign.pk}/")
            page.click("#moq-top-up")
            expect(page.locator("[data-moq-decision]")).to_have_attribute("data-moq-decision", "top_up")
            entry = WaitlistEntry.objects.get(campaign=campaign)
            assert entry.status == "offered" and entry.pledge.status == PledgeStatus.CONFIRMED
            assert errors == []
        finally:
            browser.close()
