"""The Content-Security-Policy in a real browser: pages, the API docs and the admin run with no violation,
bars get their widths from data-width, and an inline style is refused and caught by the shared fixture."""

import pytest

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.factories import ShopFactory, UserFactory
from tests.servers import daphne_server

pytestmark = pytest.mark.browser


def test_pages_docs_and_admin_run_under_the_policy_and_violations_are_caught(
    transactional_db, csp_violations_fail
):
    from playwright.sync_api import sync_playwright

    owner = UserFactory(username="cspowner")
    ShopFactory(name="安全小铺", slug="csp-shop", owner=owner)
    UserFactory(username="cspadmin", is_staff=True, is_superuser=True)
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15000)
        try:
            response = page.goto(f"{base}/login/")
            policy = response.headers["content-security-policy"]
            assert "unsafe-inline" not in policy and "script-src 'self'" in policy
            log_in(page, base, "cspowner")
            page.goto(f"{base}/inbox/")
            page.wait_for_load_state("networkidle")
            # A bar sized by data-width, as the pages' partials do.
            width = page.evaluate(
                """() => new Promise(done => {
                     const bar = document.createElement('span');
                     bar.setAttribute('data-width', '40');
                     document.body.appendChild(bar);
                     setTimeout(() => done(bar.style.width), 50);
                   })"""
            )
            assert width == "40%"
            page.goto(f"{base}/api/docs/")
            page.wait_for_selector(".swagger-ui .info", timeout=20000)
            admin = browser.new_page()
            log_in(admin, base, "cspadmin")
            admin.goto(f"{base}/admin/axes/accessattempt/")
            admin.wait_for_load_state("networkidle")
            assert admin.locator("#changelist").count() == 1
            assert csp_violations_fail.seen == []
            # What the policy exists for: an inline style attribute is refused, and the fixture sees it.
            page.goto(f"{base}/login/")
            page.evaluate("document.body.insertAdjacentHTML('beforeend', '<b style=\"color:red\">x</b>')")
            page.wait_for_timeout(300)
            assert any("style-src" in seen for seen in csp_violations_fail.seen), csp_violations_fail.seen
            csp_violations_fail.seen.clear()
        finally:
            browser.close()
