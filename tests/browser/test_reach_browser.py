"""Reach's buttons in the browser: the notification switch (fan chat page and inbox), the inbox's reminders,
the digest setting on the bot page, and the devices on /me/privacy/.

Headless Chromium has no push service to subscribe with (PushManager.subscribe needs Google's FCM), so the
page's PushManager is stubbed: it hands back a subscription whose endpoint is this test's local push service
and whose keys the test holds. Everything else is real: the service worker registration at /sw.js, the
notification permission (granted through Playwright), the API calls, and the push that the local service
receives, verifies (VAPID) and decrypts after the fan closes the page.
"""

import datetime as dt
import json
import re
import uuid

import pytest
from django.conf import settings
from django.utils import timezone

from fans.bot.models import BotSettings
from reach.models import DigestSettings, PushPreference, PushSubscription, Reminder, ReminderStatus
from reach.services.reminders import reminders_fire_due
from tests.browser.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in
from tests.conftest import api_client_for
from tests.factories import FanFactory, ShopFactory, UserFactory
from tests.reach.pushserver import PushServer
from tests.servers import daphne_server

pytestmark = pytest.mark.browser

STUB = """
(() => {
  // The browser keeps a subscription across page loads; so does the stub (in localStorage).
  const sub = %s;
  const KEY = "__stub_push_subscription";
  const fake = {
    endpoint: sub.endpoint,
    toJSON: () => ({ endpoint: sub.endpoint, keys: sub.keys }),
    unsubscribe: () => {
      localStorage.removeItem(KEY);
      window.__unsubscribed = (window.__unsubscribed || 0) + 1;
      return Promise.resolve(true);
    },
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(localStorage.getItem(KEY) ? fake : null);
  };
  PushManager.prototype.subscribe = function (opts) {
    window.__subscribeKey = opts && opts.applicationServerKey && opts.applicationServerKey.length;
    localStorage.setItem(KEY, "1");
    return Promise.resolve(fake);
  };
})();
"""


def _page(browser, base, *, mobile, stub=None, origin_permissions=True):
    size = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 800}
    ctx = browser.new_context(viewport=size, is_mobile=mobile, has_touch=mobile, locale="zh-CN")
    if origin_permissions:
        ctx.grant_permissions(["notifications"], origin=base)
    if stub:
        ctx.add_init_script(STUB % json.dumps(stub))
    page = ctx.new_page()
    page.set_default_timeout(15000)
    return page


def test_fan_turns_notifications_on_gets_a_push_when_away_and_turns_them_off(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    BotSettings.objects.create(shop=shop, enabled=False)
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"), display_name="小红")
    ARTIFACTS.mkdir(exist_ok=True)

    with (
        PushServer(settings.FANSI_VAPID_PUBLIC_KEY) as push,
        daphne_server() as base,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        device = push.device("fan-phone")
        page = _page(
            browser, base, mobile=True, stub={"endpoint": push.url("fan-phone"), "keys": device.keys()}
        )
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "fan")
            switch = page.locator("#push-switch")
            expect(switch).to_be_enabled()
            expect(switch).not_to_be_checked()
            # The real service worker registered at the root scope.
            page.wait_for_function(
                "navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready"
            )
            scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
            assert scope == f"{base}/"

            switch.click()
            expect(switch).to_be_checked()
            expect(page.locator("#push-state")).to_have_text("已开启")
            assert page.evaluate("window.__subscribeKey") == 65  # subscribed with the VAPID public key
            row = PushSubscription.objects.get()
            assert (row.user_id, row.endpoint) == (fan.user_id, push.url("fan-phone"))
            page.screenshot(path=str(ARTIFACTS / "reach-push-switch-phone.png"))

            # The fan closes the page; the owner answers; the phone gets a push it can decrypt.
            page.goto("about:blank")
            page.wait_for_timeout(500)
            api_client_for(owner).post(
                f"/api/conversations/{fan.conversation.pk}/messages/",
                {"client_id": str(uuid.uuid4()), "kind": "text", "text": "明天发货"},
                format="json",
            )
            (received,) = push.wait_for(1)
            assert received.error == "" and received.payload["title"] == "美妆小铺"

            # Back on the page, the switch shows on, and turns it off.
            page.goto(f"{base}/s/{shop.slug}/")
            expect(switch).to_be_checked()
            switch.click()
            expect(switch).not_to_be_checked()
            expect(page.locator("#push-state")).to_have_text("已关闭")
            assert page.evaluate("window.__unsubscribed") == 1
            assert not PushSubscription.objects.exists()
        finally:
            browser.close()
    assert not errors, errors


def test_switch_says_blocked_when_the_browser_denies_notifications(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    shop = ShopFactory(name="美妆小铺", slug="beauty-shop")
    FanFactory(shop=shop, user=UserFactory(username="fan"))
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _page(browser, base, mobile=True, origin_permissions=False)
        page.add_init_script("Object.defineProperty(Notification, 'permission', {get: () => 'denied'});")
        try:
            log_in(page, base, "fan")
            expect(page.locator("#push-state")).to_have_text("已在浏览器设置中屏蔽")
            expect(page.locator("#push-switch")).to_be_disabled()
        finally:
            browser.close()


@pytest.mark.parametrize("mobile", [False, True], ids=["desktop", "phone"])
def test_owner_sets_and_cancels_a_reminder_and_uses_the_inbox_switch(transactional_db, mobile):
    from playwright.sync_api import expect, sync_playwright

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fan = FanFactory(shop=shop, display_name="小红")
    conversation = fan.conversation
    with (
        PushServer(settings.FANSI_VAPID_PUBLIC_KEY) as push,
        daphne_server() as base,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        device = push.device("owner-pc")
        page = _page(
            browser, base, mobile=mobile, stub={"endpoint": push.url("owner-pc"), "keys": device.keys()}
        )
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            # The switch beside the list (the inbox without an open conversation).
            page.goto(f"{base}/inbox/?shop={shop.pk}")
            switch = page.locator("#push-switch")
            switch.click()
            expect(page.locator("#push-state")).to_have_text("已开启")  # after the API answered
            expect(switch).to_be_checked()
            assert PushSubscription.objects.get().user_id == owner.pk

            page.goto(f"{base}/inbox/c/{conversation.pk}/?shop={shop.pk}")
            page.click("#reminder-open")
            form = page.locator("#reminder-form")
            expect(form).to_be_visible()
            form.locator('input[name="when"][value="3"]').check()
            form.locator('input[name="note"]').fill("问问用后感")
            page.click("#reminder-save")
            item = page.locator("#reminder-list li")
            expect(item).to_have_count(1)
            expect(form).to_be_hidden()
            reminder = Reminder.objects.get()
            assert reminder.cancel_on_reply and reminder.note == "问问用后感"
            ahead = reminder.remind_at - reminder.created_at
            assert dt.timedelta(days=3) - dt.timedelta(minutes=5) < ahead < dt.timedelta(days=3, minutes=5)

            # A date: the form's own date and time, in the shop's zone.
            page.click("#reminder-open")
            form.locator('input[name="when"][value="date"]').check()
            day = (dt.date.today() + dt.timedelta(days=10)).isoformat()
            form.locator('input[name="date"]').fill(day)
            form.locator('input[name="cancel_on_reply"]').uncheck()
            page.click("#reminder-save")
            expect(item).to_have_count(2)
            dated = Reminder.objects.order_by("-pk").first()
            assert (
                dated.remind_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
                == f"{day} 09:00"
            )
            assert not dated.cancel_on_reply

            # The form's close button.
            page.click("#reminder-open")
            page.click("#reminder-cancel-form")
            expect(form).to_be_hidden()

            # Cancel the first.
            page.locator(f'[data-reminder-close="{reminder.pk}"]').click()
            expect(item).to_have_count(1)
            reminder.refresh_from_db()
            assert reminder.status == ReminderStatus.CANCELLED

            # It falls due while the page is open: the beat fires it, the open inbox hears reminder.due.
            Reminder.objects.filter(pk=dated.pk).update(remind_at=timezone.now() - dt.timedelta(seconds=1))
            assert reminders_fire_due() == {"fired": 1, "cancelled": 0}
            expect(page.locator("[data-toast]")).to_contain_text("跟进：小红")
            expect(page.locator(f'#reminder-list [data-reminder="{dated.pk}"]')).to_have_class(
                re.compile("reminder-fired")
            )
            (pushed,) = push.wait_for(1)
            assert pushed.error == "" and pushed.payload["title"] == "跟进：小红"

            # A due reminder shows under the "reminders" chip, and Done clears it.
            page.goto(f"{base}/inbox/?shop={shop.pk}")
            page.click('.triage-chip[data-filter="reminders"]')
            expect(page.locator(f'#conv-list li[data-conversation="{conversation.pk}"]')).to_be_visible()
            page.goto(f"{base}/inbox/c/{conversation.pk}/?shop={shop.pk}")
            page.locator(f'[data-reminder-close="{dated.pk}"]').click()
            expect(page.locator("#reminder-list li")).to_have_count(0)
            dated.refresh_from_db()
            assert dated.status == ReminderStatus.DONE
        finally:
            browser.close()
    assert not errors, errors


def test_owner_saves_the_digest_setting_and_a_fan_manages_devices_on_my_privacy(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    from tests.reach.pushserver import DeviceKeys

    owner = UserFactory(username="owner")
    shop = ShopFactory(name="美妆小铺", slug="beauty-shop", owner=owner)
    fan = FanFactory(shop=shop, user=UserFactory(username="fan"))
    keep = PushSubscription.objects.create(
        user=fan.user, endpoint="https://push.example.com/a", user_agent="Phone A", **DeviceKeys().keys()
    )
    gone = PushSubscription.objects.create(
        user=fan.user, endpoint="https://push.example.com/b", user_agent="Phone B", **DeviceKeys().keys()
    )
    with daphne_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _page(browser, base, mobile=False)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            log_in(page, base, "owner")
            page.goto(f"{base}/bot/?shop={shop.pk}")
            page.fill("#digest-minutes", "30")
            page.locator('#digest-form input[name="enabled"]').uncheck()
            page.click("#digest-save")
            expect(page.locator("#digest-status")).to_have_text("已保存")
            row = DigestSettings.objects.get(shop=shop)
            assert (row.unanswered_after_minutes, row.enabled) == (30, False)
            page.context.clear_cookies()

            log_in(page, base, "fan")
            page.goto(f"{base}/me/privacy/")
            expect(page.locator("#device-list li")).to_have_count(2)
            page.locator("#push-previews").check()
            page.wait_for_function(
                "document.querySelector('[data-toast]') && !document.querySelector('[data-toast]').hidden"
            )
            assert PushPreference.objects.get(user=fan.user).previews is True
            page.locator(f'[data-device-remove="{gone.pk}"]').click()
            expect(page.locator("#device-list li")).to_have_count(1)
            assert list(PushSubscription.objects.values_list("pk", flat=True)) == [keep.pk]
            page.locator(f'[data-device-remove="{keep.pk}"]').click()
            expect(page.locator("#device-empty")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "reach-privacy-devices.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
