"""Every browser test enforces the Content-Security-Policy (issue 17): a page that has something refused
("Refused to execute inline script", "Refused to apply inline style", a blocked connection) fails its test.

The tests launch Chromium themselves, so this wraps Playwright's Browser.new_context and Browser.new_page for
the test's duration: each context reports CSP violations, from the console and from the page's own
`securitypolicyviolation` events (which name the directive and the blocked thing)."""

import pytest
from playwright.sync_api._generated import Browser

# Runs in every page before its scripts: the browser's violation report, into the console, once per thing.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("Refused to load or run (CSP " + e.effectiveDirective + "): " + (e.blockedURI || "inline")
    + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


class CspViolations:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, context) -> None:
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._console)

    def _console(self, message) -> None:
        if "Refused to" in message.text:
            self.seen.append(f"{message.page.url if message.page else '?'}: {message.text}")


@pytest.fixture(autouse=True)
def csp_violations_fail(monkeypatch):
    violations = CspViolations()
    new_context, new_page = Browser.new_context, Browser.new_page

    def watched_context(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        violations.watch(context)
        return context

    def watched_page(self, *args, **kwargs):
        page = new_page(self, *args, **kwargs)
        violations.watch(page.context)
        return page

    monkeypatch.setattr(Browser, "new_context", watched_context)
    monkeypatch.setattr(Browser, "new_page", watched_page)
    yield violations
    assert not violations.seen, "Content-Security-Policy violations:\n" + "\n".join(violations.seen)
