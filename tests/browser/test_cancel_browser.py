"""Stopping work that is under way, in a real browser: discarding a prepared CSV import, and stopping a
broadcast that is still going out."""

import pytest

from fans.bot.models import Broadcast
from fans.crm.models import FanTag, ImportJob
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_owner_discards_an_import_and_stops_a_broadcast(transactional_db, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fans = [FanFactory(shop=shop) for _ in range(3)]
    csv = tmp_path / "fans.csv"
    csv.write_text("fan_id,tags\n" + "".join(f"{f.pk},preference:looks\n" for f in fans), encoding="utf-8")
    going_out = Broadcast.objects.create(
        shop=shop,
        created_by=owner,
        kind="text",
        text="双十二清仓",
        queued=3,
        status="queued",
        selection={"fan_ids": [f.pk for f in fans]},
    )

    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 390, "height": 800}, locale="zh-CN").new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/fans/import/")
            page.set_input_files("#import-file", str(csv))
            page.click("#import-check")
            expect(page.locator("#import-confirm")).to_be_visible()
            page.click("#import-discard")
            # The cancel is a request to Daphne; on a loaded 2-core CI machine it can take longer than
            # expect()'s 5 s default, so wait as long as the page's own timeout.
            expect(page.locator("#crm-flash")).to_contain_text("已放弃", timeout=15000)
            expect(page.locator("#import-preview")).to_be_hidden()
            job = ImportJob.objects.get(shop=shop)
            assert job.status == "cancelled"
            assert not FanTag.objects.filter(fan__in=fans, tag__code="looks").exists()

            page.goto(f"{base}/broadcasts/")
            row = page.locator(f'li[data-broadcast="{going_out.pk}"]')
            stop = row.locator(".bc-cancel")
            expect(stop).to_be_visible()
            page.once("dialog", lambda dialog: dialog.accept())
            stop.click()
            expect(row.locator('[data-field="status"]')).to_have_text("已取消")
            expect(stop).to_be_hidden()
            going_out.refresh_from_db()
            assert going_out.status == "cancelled"
            assert errors == []
        finally:
            browser.close()
