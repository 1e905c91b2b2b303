"""The fan CRM in a real browser against a real Daphne: filter, select all matching, bulk-tag, watch the job.

It also exercises the shared page module (static/fansi/fansi.js): the job poller and progress bar, an API error
shown as a toast, and the JavaScript catalog's strings in both languages.
"""

import re

import pytest

from fans.chat.models import Fan
from fans.crm.models import FanTag, Segment, Tag
from fans.crm.services.tagging import fan_tags_bulk_add
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

SKIN = ["oily", "dry", "combination"]
PREFERENCE = ["value", "looks"]


def tag(string: str) -> Tag:
    group, code = string.split(":")
    return Tag.objects.select_related("group").get(group__code=group, group__shop__isnull=True, code=code)


def tagged_shop(owner) -> tuple[object, list[Fan]]:
    """30 fans with a mix of skin types and shopping preferences (every fifth has no preference)."""
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fans = [FanFactory(shop=shop, display_name=f"粉丝{i:02d}") for i in range(30)]
    for i, fan in enumerate(fans):
        tags = [tag(f"skin_type:{SKIN[i % 3]}")]
        if i % 5 != 4:
            tags.append(tag(f"preference:{PREFERENCE[i % 2]}"))
        fan_tags_bulk_add(fan_ids=[fan.pk], tags=tags, source="owner", actor=owner)
    return shop, fans


def matching_ids(shop) -> set[int]:
    oily = FanTag.objects.filter(tag=tag("skin_type:oily")).values("fan_id")
    value = FanTag.objects.filter(tag=tag("preference:value")).values("fan_id")
    return set(Fan.objects.filter(shop=shop, pk__in=oily).filter(pk__in=value).values_list("pk", flat=True))


def test_owner_filters_selects_all_matching_and_bulk_tags_them(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner", first_name="王店主")
    shop, fans = tagged_shop(owner)
    expected = matching_ids(shop)
    assert 2 < len(expected) < 30
    acne = tag("skin_concern:acne")
    ARTIFACTS.mkdir(exist_ok=True)

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            # The staff nav leads to the fan list; a small page size makes "select all N matching" matter.
            page.click(".staff-nav >> text=粉丝")
            page.wait_for_url("**/fans/**")
            expect(page.locator("#fan-range")).to_have_attribute("data-count", "30")
            page.goto(f"{base}/fans/?shop={shop.pk}&limit=3")
            expect(page.locator("#fan-range")).to_have_text("第 1–3 条，共 30 条")

            # Two tags, both "must have" (one click each), then apply.
            page.click('#filter-form .chip[data-tag="skin_type:oily"]')
            page.click('#filter-form .chip[data-tag="preference:value"]')
            expect(page.locator('#filter-form .chip[data-tag="skin_type:oily"]')).to_have_attribute(
                "data-state", "all"
            )
            page.click("#apply-filters")
            n = len(expected)
            expect(page.locator("#fan-range")).to_have_attribute("data-count", str(n))
            expect(page.locator("#fan-range")).to_have_text(f"第 1–3 条，共 {n} 条")
            assert "tags_all=skin_type%3Aoily%2Cpreference%3Avalue" in page.url
            assert page.locator("#fan-rows tr").count() == 3

            # Select the page, then every matching fan (the filter, not just this page).
            page.check("#check-page")
            page.click("#select-all-matching")
            expect(page.locator("#select-banner-text")).to_have_text(f"已选中全部 {n} 位符合条件的粉丝。")
            expect(page.locator("#bulk-count")).to_have_text(f"已选 {n} 位")

            # Record every value the job's progress bar takes.
            page.evaluate(
                """() => {
                  const bar = document.getElementById("job-progress");
                  window.progressSeen = [];
                  new MutationObserver(() => window.progressSeen.push(bar.getAttribute("aria-valuenow")))
                    .observe(bar, { attributes: true, attributeFilter: ["aria-valuenow"] });
                }"""
            )
            # The eager test worker finishes the job inside the POST. Its answers are rewound (queued, then half
            # way) so the poller has a job in flight to follow; later status answers come from the server as is.
            rewound: list[dict] = []

            def in_flight(route) -> None:
                if len(rewound) >= 2:
                    route.fallback()
                    return
                job = route.fetch().json()
                rewound.append(job)
                if route.request.method == "POST":
                    route.fulfill(status=201, json={**job, "status": "queued", "progress": 0, "processed": 0})
                else:
                    route.fulfill(
                        json={**job, "status": "running", "progress": 0.5, "processed": job["total"] // 2}
                    )

            page.route(re.compile(r"/api/bulk-jobs/(\d+/)?$"), in_flight)
            page.select_option("#bulk-tag", "skin_concern:acne")
            page.click("#bulk-add")
            expect(page.locator("#job-panel")).to_be_visible()
            expect(page.locator("#job-progress")).to_have_attribute("aria-valuenow", "100")
            assert page.evaluate("window.progressSeen") == ["0", "50", "100"]
            assert len(rewound) == 2
            assert page.locator("#job-bar").evaluate("el => el.style.width") == "100%"
            expect(page.locator("#job-summary")).to_have_text(f"已处理 {n}，变更 {n}")
            expect(page.locator("#job-status")).to_have_text("已完成")
            expect(page.locator("#job-cancel")).to_be_hidden()
            # The list reloads with the new tag on the matching fans.
            expect(page.locator("#fan-rows tr").first.locator(".chip", has_text="痘痘")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "crm-fans.png"), full_page=True)

            # Exactly the matching fans got the tag.
            tagged = set(FanTag.objects.filter(tag=acne).values_list("fan_id", flat=True))
            assert tagged == expected

            # Save the filter as a segment; a second one of the same name is refused with the API's message.
            toast = page.locator("#crm-flash")
            page.once("dialog", lambda dialog: dialog.accept("油皮省钱党"))
            page.click("#save-segment")
            expect(toast).to_have_text(f"已保存分群“油皮省钱党”（{n} 位粉丝）。")
            expect(toast).not_to_have_class(re.compile(r"\berror\b"))
            page.once("dialog", lambda dialog: dialog.accept("油皮省钱党"))
            page.click("#save-segment")
            expect(toast).to_have_text("已有同名分群。")
            expect(toast).to_have_class(re.compile(r"\berror\b"))
            assert Segment.objects.filter(shop=shop, name="油皮省钱党").count() == 1

            # Back to the unfiltered list: the URL holds the state.
            page.go_back()
            expect(page.locator("#fan-range")).to_have_attribute("data-count", "30")
            expect(page.locator('#filter-form .chip[data-tag="skin_type:oily"]')).to_have_attribute(
                "data-state", ""
            )

            # The fan detail page: tags with source and freshness, and the conversation beside them.
            target = Fan.objects.get(pk=min(expected))
            page.goto(f"{base}/fans/{target.pk}/?shop={shop.pk}")
            expect(page.locator(".held-tags")).to_contain_text("痘痘")
            expect(page.locator(".held-tags")).to_contain_text("店主")
            page.fill("#notes", "喜欢小样")
            page.click("#notes-form button[type=submit]")
            expect(page.locator("#notes-status")).to_have_text("已保存。")
            assert Fan.objects.get(pk=target.pk).notes == "喜欢小样"
            page.screenshot(path=str(ARTIFACTS / "crm-fan-detail.png"), full_page=True)

            # The same filtered list on a 375 px phone.
            phone = browser.new_context(
                viewport={"width": 375, "height": 780}, is_mobile=True, has_touch=True, locale="zh-CN"
            )
            phone_page = phone.new_page()
            phone_page.set_default_timeout(15000)
            phone_page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(phone_page, base, "owner")
            phone_page.goto(f"{base}/fans/?shop={shop.pk}&tags_all=skin_type:oily,preference:value")
            expect(phone_page.locator("#fan-range")).to_have_attribute("data-count", str(n))
            phone_page.check("#check-page")
            expect(phone_page.locator("#bulk-bar")).to_be_visible()
            overflow = phone_page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"page is {overflow}px wider than the phone"
            phone_page.screenshot(path=str(ARTIFACTS / "crm-fans-phone.png"), full_page=True)
            phone.close()

            # With English chosen, the same page script shows the English catalog's strings.
            english = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
            english.add_cookies([{"name": "django_language", "value": "en", "url": base}])
            en_page = english.new_page()
            en_page.set_default_timeout(15000)
            en_page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(en_page, base, "owner")
            en_page.goto(f"{base}/fans/?shop={shop.pk}&limit=3")
            expect(en_page.locator("#fan-range")).to_have_text("Showing 1–3 of 30")
            en_page.check("#check-page")
            expect(en_page.locator("#bulk-count")).to_have_text("3 selected")
            english.close()
            assert errors == []
        finally:
            ctx.close()
            browser.close()
