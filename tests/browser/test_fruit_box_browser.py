"""The fruit box in a real browser against a real Daphne: the owner composes the week on the box page (add,
edit, remove, with the gap days in red), and a fan on a phone uses every control on their box page."""

import datetime as dt

import pytest
from django.utils import timezone

from preorders.models import (
    BoxItem,
    BoxSwap,
    CycleChange,
    Pledge,
    RetentionOffer,
    SubscriptionPrefs,
    SubscriptionSkip,
)
from preorders.services import campaign_create, campaign_launch, pledge_place
from preorders.services.fruit_box_items import box_item_create
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory, VariantFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

GAP_RED = "rgb(253, 236, 234)"


def fruit_subscription(owner, shop):
    product = ProductFactory(shop=shop, name="应季鲜果周订盒", category="fruit")
    variant = VariantFactory(product=product, name="标准盒")
    campaign = campaign_create(
        user=owner,
        kind="subscription",
        product_id=product.pk,
        title="每周鲜果订阅",
        target_quantity=10,
        cap=None,
        deadline=(timezone.now() + dt.timedelta(days=5)).isoformat(),
        deposit_percent="20",
        per_fan_limit=None,
        tiers=[],
        cadence="weekly",
        cycles=None,
        cutoff_hours=48,
    )
    campaign_launch(user=owner, campaign_id=campaign.pk)
    return campaign, variant


def browser_page(pw, **context):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_context(locale="zh-CN", **context).new_page()
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    return browser, page, errors


def test_owner_composes_the_box_week_with_no_gap_day(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="鲜果小铺", slug="fruit-shop", owner=owner)
    campaign, _variant = fruit_subscription(owner, shop)
    for name, price, ripen, qty in (("芒果", "8.00", 3, 2), ("猕猴桃", "4.00", 4, 3)):
        box_item_create(
            user=owner, campaign_id=campaign.pk, name=name, unit_price=price, ripen_days=ripen, quantity=qty
        )
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser, page, errors = browser_page(pw, viewport={"width": 1280, "height": 900})
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/campaigns/{campaign.pk}/")
            page.click("#box-link")
            page.wait_for_url(f"**/campaigns/{campaign.pk}/box/")
            week = page.locator("#box-calendar")
            expect(week.locator(".box-day")).to_have_count(7)
            # Nothing ripe before the mango on day 3: days 0-2 are red.
            expect(week).to_have_attribute("data-gaps", "0,1,2")
            expect(week.locator(".box-day.gap")).to_have_count(3)
            gap_color = week.locator('[data-day="0"]').evaluate("el => getComputedStyle(el).backgroundColor")
            assert gap_color == GAP_RED
            expect(week.locator('[data-day="3"] li.best')).to_have_text("芒果 ×2")

            # Add apples (ready on delivery): no gap left.
            form = page.locator("#box-add")
            form.locator("[name=name]").fill("苹果")
            form.locator("[name=unit_price]").fill("3")
            form.locator("[name=ripen_days]").fill("0")
            form.locator("[name=quantity]").fill("4")
            page.click("#box-add-submit")
            expect(page.locator("#box-items tr")).to_have_count(3)
            expect(week).to_have_attribute("data-gaps", "")
            expect(week.locator(".box-day.gap")).to_have_count(0)
            apple = BoxItem.objects.get(name="苹果")
            assert (apple.unit_price, apple.ripen_days, apple.quantity, apple.is_default) == (3, 0, 4, True)
            page.screenshot(path=str(ARTIFACTS / "box-owner.png"), full_page=True)

            # Edit the kiwi: ready after 6 days, and make the mango an option to swap in.
            kiwi = BoxItem.objects.get(name="猕猴桃")
            row = page.locator(f'#box-items tr[data-item="{kiwi.pk}"]')
            row.locator("[name=ripen_days]").fill("6")
            row.locator("[data-save]").click()
            expect(week.locator('[data-day="6"] li.best')).to_have_text("猕猴桃 ×3")
            assert BoxItem.objects.get(pk=kiwi.pk).ripen_days == 6
            mango = BoxItem.objects.get(name="芒果")
            row = page.locator(f'#box-items tr[data-item="{mango.pk}"]')
            row.locator("[name=is_default]").select_option("false")
            row.locator("[data-save]").click()
            expect(page.locator(f'#box-items tr.box-option[data-item="{mango.pk}"]')).to_have_count(1)
            expect(week.locator('[data-day="3"]')).not_to_contain_text("芒果")
            assert BoxItem.objects.get(pk=mango.pk).is_default is False

            # A bad price is refused with the service's message, nothing stored.
            row = page.locator(f'#box-items tr[data-item="{kiwi.pk}"]')
            row.locator("[name=unit_price]").fill("-1")
            row.locator("[data-save]").click()
            expect(page.locator("#crm-flash")).to_have_class("toast toast-top error")
            assert str(BoxItem.objects.get(pk=kiwi.pk).unit_price) == "4.00"

            # Remove the apples (after the confirm): the red days are back.
            page.locator(f'#box-items tr[data-item="{apple.pk}"] [data-remove]').click()
            expect(page.locator("#box-items tr")).to_have_count(2)
            expect(week.locator(".box-day.gap")).to_have_count(6)
            assert not BoxItem.objects.filter(pk=apple.pk).exists()
            assert errors == []
        finally:
            browser.close()


def test_fan_changes_their_box_on_a_phone(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="鲜果小铺", slug="fruit-shop", owner=owner)
    campaign, variant = fruit_subscription(owner, shop)
    items = {}
    for name, price, ripen, qty, default in (
        ("苹果", "3.00", 0, 4, True),
        ("芒果", "8.00", 3, 2, True),
        ("梨", "3.00", 0, 1, False),
        ("榴莲", "8.00", 1, 1, False),
    ):
        items[name] = box_item_create(
            user=owner,
            campaign_id=campaign.pk,
            name=name,
            unit_price=price,
            ripen_days=ripen,
            quantity=qty,
            is_default=default,
        )
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    pledge_id = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)[0][
        "id"
    ]
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser, page, errors = browser_page(
            pw, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2
        )
        try:
            log_in(page, base, "fan")
            page.goto(f"{base}/me/pledges/")
            page.locator(f'[data-pledge="{pledge_id}"] [data-box-link]').click()
            page.wait_for_url(f"**/me/box/{pledge_id}/")
            expect(page.locator("#box-calendar .box-day")).to_have_count(7)
            expect(page.locator("#box-next")).to_have_attribute("data-receives", "yes")
            lines = page.locator("#box-lines")
            expect(lines).to_contain_text("苹果 ×4")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"page is {overflow}px wider than the phone"

            # Swap the apples for pears (same price), then back.
            apple, mango, pear, durian = items["苹果"], items["芒果"], items["梨"], items["榴莲"]
            lines.locator(f'select[data-slot="{apple.pk}"]').select_option(str(pear.pk))
            lines.locator(f'[data-swap="{apple.pk}"]').click()
            expect(lines).to_contain_text("梨 ×4")
            expect(page.locator('#box-calendar [data-day="0"]')).to_contain_text("梨 ×4")
            assert BoxSwap.objects.filter(pledge_id=pledge_id, item=apple, option=pear).exists()
            lines.locator(f'select[data-slot="{apple.pk}"]').select_option("")
            lines.locator(f'[data-swap="{apple.pk}"]').click()
            expect(lines).to_contain_text("苹果 ×4")
            assert not BoxSwap.objects.exists()

            # Never mango: durian (same price) comes instead; then the small box.
            page.locator(f'#never-list input[value="{mango.pk}"]').check()
            page.click("#prefs-save")
            expect(lines.locator(f'[data-item="{durian.pk}"]')).to_contain_text("榴莲 ×2")
            prefs = SubscriptionPrefs.objects.get(pledge_id=pledge_id)
            assert list(prefs.never_items.values_list("pk", flat=True)) == [mango.pk]
            page.check('#prefs-form [name=box_size][value="small"]')
            page.click("#prefs-save")
            expect(lines).to_contain_text("苹果 ×2")
            expect(page.locator("#box-price")).to_contain_text("49.5")
            assert SubscriptionPrefs.objects.get(pledge_id=pledge_id).box_size == "small"

            # Delay the next box by two days, then back to its usual day.
            page.select_option("#delay-days", "2")
            page.click("#delay-save")
            expect(page.locator("#delay-undo")).to_be_visible()
            expect(page.locator("#box-next")).to_contain_text("2")
            assert CycleChange.objects.get(pledge_id=pledge_id, kind="delay").delay_days == 2
            page.click("#delay-undo")
            expect(page.locator("#delay-undo")).to_be_hidden()
            assert not CycleChange.objects.filter(kind="delay").exists()

            # Send it as a gift (a bad phone first), then to me again.
            page.click("#gift-box summary")
            page.fill("#gift-name", "张阿姨")
            page.fill("#gift-phone", "call me")
            page.fill("#gift-address", "上海市徐汇区漕溪北路 88 号")
            page.click("#gift-save")
            expect(page.locator("#box-error")).to_be_visible()
            assert not CycleChange.objects.exists()
            page.fill("#gift-phone", "13800138000")
            page.click("#gift-save")
            expect(page.locator("#gift-now")).to_contain_text("张阿姨")
            gift = CycleChange.objects.get(pledge_id=pledge_id, kind="gift")
            assert (gift.gift_name, gift.gift_address) == ("张阿姨", "上海市徐汇区漕溪北路 88 号")
            page.screenshot(path=str(ARTIFACTS / "box-fan.png"), full_page=True)
            page.click("#gift-undo")
            expect(page.locator("#gift-now")).to_be_hidden()
            assert not CycleChange.objects.exists()

            # Every two weeks.
            page.check('#frequency-form [name=frequency][value="biweekly"]')
            page.click("#frequency-save")
            expect(page.locator("#box-error")).to_be_hidden()
            expect(page.locator("[data-toast]")).to_have_text("你的果盒改为每两周一盒")
            assert SubscriptionPrefs.objects.get(pledge_id=pledge_id).frequency == "biweekly"

            # Going away: the offer is to skip the next box, and the fan takes it.
            page.click("#cancel-box summary")
            page.select_option("#cancel-reason", "away")
            page.fill("#cancel-note", "出差两周")
            page.click("#cancel-next")
            expect(page.locator("#offer")).to_have_attribute("data-offer", "skip")
            page.click("#offer-accept")
            expect(page.locator("#box-next")).to_have_attribute("data-receives", "no")
            assert SubscriptionSkip.objects.filter(pledge_id=pledge_id).exists()
            assert RetentionOffer.objects.get().outcome == "accepted"

            # Something else: no offer fits, and the fan cancels.
            page.click("#cancel-box summary")
            page.select_option("#cancel-reason", "other")
            page.click("#cancel-next")
            expect(page.locator("#offer")).to_have_attribute("data-offer", "")
            expect(page.locator("#offer-accept")).to_be_hidden()
            page.click("#offer-decline")
            expect(page.locator("#box-ended")).to_be_visible()
            pledge = Pledge.objects.get(pk=pledge_id)
            assert pledge.status == "cancelled" and pledge.cancel_reason
            assert set(RetentionOffer.objects.values_list("reason", "outcome")) == {
                ("away", "accepted"),
                ("other", "declined"),
            }
            assert errors == []
        finally:
            browser.close()
