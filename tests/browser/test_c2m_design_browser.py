"""共创 in a real browser on a phone: the owner creates a round (forecast on the draft) and launches it; fans
vote, move a vote, comment; after the deadline one confirms the pre-pledge and one declines it."""

import datetime as dt

import pytest

from c2m.design.models import DesignPrePledge, DesignRound, DesignVote
from c2m.design.tasks import design_rounds_decide_due_task
from payments.ledger import statement
from preorders.models import Pledge
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.c2m.design_helpers import close_voting, product_of
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def _phone(browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = ctx.new_page()
    page.set_default_timeout(15000)
    return page


def test_create_launch_vote_comment_confirm_and_decline(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="衣橱小铺", slug="wardrobe", owner=owner)
    product_of(shop)
    first = FanFactory(shop=shop, display_name="小雪", user=UserFactory(username="fan1"))
    second = FanFactory(shop=shop, display_name="小雨", user=UserFactory(username="fan2"))
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = _phone(browser)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(page, base, "owner")
            page.goto(f"{base}/design-rounds/?shop={shop.pk}")
            page.click("#new-round")
            page.fill("#r-title", "一起设计羽绒服")
            page.fill("#r-attr-1", "颜色")
            page.fill("#r-opts-1", "黑色, 驼色")
            page.fill("#r-attr-2", "长度")
            page.fill("#r-opts-2", "短款，长款")
            page.fill("#r-target", "1")
            page.fill("#r-deposit", "5")
            page.fill("#r-deadline", (dt.datetime.now() + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"))
            page.click("#round-submit")
            expect(page.locator("#launch-round")).to_be_visible()
            rnd = DesignRound.objects.get()
            assert rnd.attributes == {"颜色": ["黑色", "驼色"], "长度": ["短款", "长款"]}
            expect(page.locator("#forecast-table tbody tr")).to_have_count(4)
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            page.screenshot(path=str(ARTIFACTS / "c2m-design-draft-390.png"), full_page=True)
            page.click("#launch-round")
            expect(page.locator("#round-status")).to_have_text("投票中")
            assert DesignRound.objects.get().status == "live"

            fan_page = _phone(browser)
            fan_page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(fan_page, base, "fan1")
            fan_page.goto(f"{base}/design-rounds/{rnd.pk}/")
            fan_page.locator("label.variant-chip", has_text="驼色").click()
            fan_page.locator("label.variant-chip", has_text="长款").click()
            fan_page.click("#vote-submit")
            expect(fan_page.locator("[data-my-combination]")).to_have_text("驼色 / 长款")
            # Moving the vote: same deposit, another combination.
            fan_page.locator("label.variant-chip", has_text="黑色").click()
            fan_page.click("#vote-submit")
            expect(fan_page.locator("[data-my-combination]")).to_have_text("黑色 / 长款")
            assert DesignVote.objects.filter(fan=first).count() == 1
            fan_page.fill("#comment-text", "希望有加长款")
            fan_page.click("#comment-submit")
            expect(fan_page.locator("#design-comments")).to_contain_text("希望有加长款")
            assert fan_page.evaluate("document.documentElement.scrollWidth") <= 391
            fan_page.screenshot(path=str(ARTIFACTS / "c2m-design-fan-390.png"), full_page=True)

            other = _phone(browser)
            other.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(other, base, "fan2")
            other.goto(f"{base}/design-rounds/{rnd.pk}/")
            other.locator("label.variant-chip", has_text="黑色").click()
            other.locator("label.variant-chip", has_text="长款").click()
            other.click("#vote-submit")
            expect(other.locator("[data-my-combination]")).to_have_text("黑色 / 长款")

            close_voting(rnd.pk)
            design_rounds_decide_due_task()
            assert DesignRound.objects.get().status == "decided"

            fan_page.reload()
            fan_page.click("#confirm-pre-pledge")
            expect(fan_page.locator("#pre-pledge")).to_have_attribute("data-status", "confirmed")
            assert Pledge.objects.get(fan=first).status == "active"
            other.reload()
            other.click("#decline-pre-pledge")
            expect(other.locator("#pre-pledge")).to_have_attribute("data-status", "declined")
            assert DesignPrePledge.objects.get(vote__fan=second).status == "declined"

            page.reload()
            expect(page.locator("#campaigns-card li")).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "c2m-design-decided-390.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert statement(shop_id=shop.pk)["balanced"]
