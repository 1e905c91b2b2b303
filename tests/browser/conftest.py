"""Every browser test enforces the Content-Security-Policy (issue 17): a page that has something refused
("Refused to execute inline script", "Refused to apply inline style", a blocked connection) fails its test.

The tests launch Chromium themselves, so this wraps Playwright's Browser.new_context and Browser.new_page for
the test's duration: each context reports CSP violations, from the console and from the page's own
`securitypolicyviolation` events (which name the directive and the blocked thing)."""

import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api._generated import Browser, Page

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


def wait_for_function_without_eval(page, expression, *, arg=None, timeout=None, polling=None):
    """Page.wait_for_function, polled through page.evaluate: Playwright's own version compiles a string
    predicate with eval() inside the page, which the policy (no 'unsafe-eval') rightly refuses."""
    deadline = time.monotonic() + (timeout if timeout is not None else 30000) / 1000
    interval = polling / 1000 if isinstance(polling, int | float) else 0.1
    while True:
        try:
            value = page.evaluate(expression, arg)
        except PlaywrightError as error:
            # The page navigated under the poll (a form or payment redirect): poll the next document.
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"wait_for_function timed out: {expression}")
        time.sleep(interval)


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

    monkeypatch.setattr(Page, "wait_for_function", wait_for_function_without_eval)
    monkeypatch.setattr(Browser, "new_context", watched_context)
    monkeypatch.setattr(Browser, "new_page", watched_page)
    yield violations
    assert not violations.seen, "Content-Security-Policy violations:\n" + "\n".join(violations.seen)
