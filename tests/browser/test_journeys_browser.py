"""Journeys in a real browser on a phone: the owner sees the three ready-made journeys with their funnel,
turns one on and off, edits its steps (add, move, remove; a zero wait is refused with its message), creates a
journey; a fan shares and clears their birthday on /me/privacy/."""

import datetime as dt

import pytest
from django.utils import timezone

from fans.bot.models import BotSettings
from journeys.models import Enrollment, Journey, JourneyStep, StepOutcome, StepRun
from journeys.services.templates import journeys_ensure
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def _phone(pw):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = ctx.new_page()
    page.set_default_timeout(15000)
    return browser, page


def test_owner_switches_edits_and_creates_journeys(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    BotSettings.objects.create(shop=shop, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))
    journeys_ensure(shop, language="zh-hans")
    welcome = Journey.objects.get(shop=shop, template="welcome")
    first = JourneyStep.objects.get(journey=welcome, position=0)
    now = timezone.now()
    for i in range(4):  # a funnel to look at: 4 entered, 3 messaged
        fan = FanFactory(shop=shop)
        enrollment = Enrollment.objects.create(
            journey=welcome, fan=fan, trigger_ref="followed", occurred_at=now, next_run_at=now, entered_at=now
        )
        outcome = StepOutcome.SENT if i else StepOutcome.SKIPPED_BUDGET
        StepRun.objects.create(enrollment=enrollment, step=first, outcome=outcome, at=now)
    ARTIFACTS.mkdir(exist_ok=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser, page = _phone(pw)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/journeys/?shop={shop.pk}")
            expect(page.locator("[data-journey]")).to_have_count(3)
            card = page.locator(f'[data-journey="{welcome.pk}"]')
            expect(card.locator(f'[data-step="{first.pk}"] .funnel-value').first).to_have_text("4")
            expect(card.locator(f'[data-step="{first.pk}"] .funnel-value').nth(1)).to_have_text("3")
            page.screenshot(path=str(ARTIFACTS / "journeys-390.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= 391

            # The switch: on, then off.
            page.locator(f'[data-journey-switch="{welcome.pk}"]').check()
            expect(page.locator("#journeys-flash")).to_be_visible()
            page.wait_for_function(
                f"document.querySelector('[data-journey-switch=\"{welcome.pk}\"]').checked"
            )
            _wait_for(lambda: Journey.objects.get(pk=welcome.pk).enabled)
            page.locator(f'[data-journey-switch="{welcome.pk}"]').uncheck()
            _wait_for(lambda: not Journey.objects.get(pk=welcome.pk).enabled)

            # The editor: a zero wait is refused, nothing changes.
            page.locator(f'[data-journey-edit="{welcome.pk}"]').click()
            expect(page.locator("#journey-editor")).to_be_visible()
            expect(page.locator("[data-editor-step]")).to_have_count(3)
            page.select_option("#editor-add-kind", "wait")
            page.click("#editor-add")
            expect(page.locator("[data-editor-step]")).to_have_count(4)
            page.fill('[data-wait-amount="3"]', "0")
            page.click("#editor-save")
            expect(page.locator("#editor-error")).to_be_visible()
            expect(page.locator("#editor-error")).to_have_attribute("data-code", "wait_not_positive")
            assert JourneyStep.objects.filter(journey=welcome).count() == 3
            # Fix it, move it up, remove the card, add a tag step, save.
            page.fill('[data-wait-amount="3"]', "2")
            page.select_option('[data-wait-unit="3"]', "hours")
            page.locator('[data-editor-step="3"] [data-step-action="up"]').click()
            page.locator('[data-editor-step="3"] [data-step-action="remove"]').click()  # the card, now last
            page.locator('[data-editor-step="1"] [data-step-action="down"]').click()  # 3 days after 2 hours
            page.fill('[data-step-text="0"]', "欢迎 {name}，有问题随时问")
            page.click("#editor-save")
            expect(page.locator("#journey-editor")).to_be_hidden()
            steps = list(
                JourneyStep.objects.filter(journey=welcome).values_list("kind", "wait_seconds", "text")
            )
            assert steps == [
                ("send_message", None, "欢迎 {name}，有问题随时问"),
                ("wait", 7200, ""),
                ("wait", 3 * 86400, ""),
            ]
            assert JourneyStep.objects.filter(journey=welcome, position=0).get().pk == first.pk  # counts kept

            # Cancel leaves everything as it was.
            page.locator(f'[data-journey-edit="{welcome.pk}"]').click()
            page.locator('[data-editor-step="0"] [data-step-action="remove"]').click()
            page.click("#editor-cancel")
            expect(page.locator("#journey-editor")).to_be_hidden()
            assert JourneyStep.objects.filter(journey=welcome).count() == 3

            # A new journey.
            page.click("#journey-new")
            page.fill("#editor-name", "生日祝福")
            page.select_option("#editor-trigger", "birthday")
            page.fill('[data-step-text="0"]', "生日快乐，{name}！")
            page.select_option("#editor-add-kind", "add_tag")
            page.click("#editor-add")
            page.locator('[data-step-tag="1"]').select_option(index=1)
            page.click("#editor-save")
            expect(page.locator("[data-journey]")).to_have_count(4)
            created = Journey.objects.get(shop=shop, name="生日祝福")
            assert created.trigger == "birthday" and not created.enabled
            assert list(created.steps.values_list("kind", flat=True)) == ["send_message", "add_tag"]
        finally:
            browser.close()
    assert errors == []


def _wait_for(check, timeout=10.0):
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met")


def test_fan_shares_and_clears_a_birthday_on_the_privacy_page(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    shop = ShopFactory(name="美妆小铺", slug="beauty-shop")
    fan = FanFactory(shop=shop, user=UserFactory(username="xiaohong"))
    with daphne_server() as base, sync_playwright() as pw:
        browser, page = _phone(pw)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "xiaohong")
            page.goto(f"{base}/me/privacy/")
            row = page.locator(f'[data-birthday-fan="{fan.pk}"]')
            expect(row.locator("[data-birthday-clear]")).to_be_hidden()
            row.locator("[data-birthday-month]").select_option("5")
            row.locator("[data-birthday-day]").fill("21")
            row.locator("[data-birthday-save]").click()
            expect(row.locator("[data-birthday-clear]")).to_be_visible()
            fan.refresh_from_db()
            assert (fan.birthday_month, fan.birthday_day) == (5, 21)
            page.reload()
            expect(row.locator("[data-birthday-day]")).to_have_value("21")
            row.locator("[data-birthday-clear]").click()
            expect(row.locator("[data-birthday-clear]")).to_be_hidden()
            fan.refresh_from_db()
            assert fan.birthday_month is None and fan.birthday_day is None
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
        finally:
            browser.close()
    assert errors == []
