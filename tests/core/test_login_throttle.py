"""Sign-in throttling through the real URLs and settings (django-axes, core/auth_throttle.py): the token
endpoint, the login form and phone sign-in lock a failing username, phone or address; others keep working."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token/"


def token_try(username: str, password: str, ip: str = "127.0.0.1"):
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip
    )


def form_try(client: Client, username: str, password: str, ip: str = "127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_token_endpoint_locks_a_guessed_username_within_20_and_others_keep_working():
    victim, other = UserFactory(username="victim"), UserFactory(username="other")
    statuses = [token_try(victim.username, f"wrong-{i}").status_code for i in range(20)]
    assert 429 in statuses, statuses
    first_lock = statuses.index(429)
    assert first_lock < 20 and set(statuses[:first_lock]) == {400}
    locked = token_try(victim.username, PASSWORD)  # even the right password, while locked
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "login_locked" and body["message"]
    assert body["detail"]["retry_after_s"] > 0 and int(locked["Retry-After"]) > 0
    # Another account, from the same address, signs in at once.
    ok = token_try(other.username, PASSWORD)
    assert ok.status_code == 200 and ok.json()["token"]


def test_an_address_spraying_many_usernames_is_locked_within_20_other_addresses_are_not():
    UserFactory(username="real")
    statuses = [token_try(f"nobody-{i}", "wrong", ip="10.9.9.9").status_code for i in range(20)]
    assert 429 in statuses, statuses
    assert token_try("real", PASSWORD, ip="10.9.9.9").status_code == 429
    assert token_try("real", PASSWORD, ip="10.9.9.10").status_code == 200


def test_a_success_resets_that_usernames_failures_only(settings):
    UserFactory(username="typo")
    UserFactory(username="mine")
    limit = settings.FANSI_LOGIN_USERNAME_FAILURES
    for _ in range(limit - 1):
        assert token_try("typo", "wrong").status_code == 400
    assert token_try("typo", PASSWORD).status_code == 200  # clears typo's failures
    for _ in range(limit - 1):
        assert token_try("typo", "wrong").status_code == 400
    assert token_try("typo", "wrong").status_code == 429
    # Signing in to another account from the same address does not unlock the guessed one.
    assert token_try("mine", PASSWORD).status_code == 200
    assert token_try("typo", PASSWORD).status_code == 429


def test_login_form_locks_with_a_clear_page_and_other_accounts_log_in():
    UserFactory(username="formvictim")
    UserFactory(username="formother")
    client = Client()
    statuses = []
    for i in range(20):
        resp = form_try(client, "formvictim", f"nope-{i}")
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            break
    assert statuses[-1] == 429 and len(statuses) <= 20 and set(statuses[:-1]) == {200}
    page = form_try(Client(), "formvictim", PASSWORD)
    assert page.status_code == 429
    html = page.content.decode()
    assert 'id="login-locked"' in html and "sessionid" not in page.cookies
    good = form_try(Client(), "formother", PASSWORD)
    assert good.status_code == 302


def test_lockout_duration_comes_from_settings_and_expires(settings):
    import datetime as dt

    from django.utils import timezone

    UserFactory(username="cool")
    for _ in range(settings.FANSI_LOGIN_USERNAME_FAILURES):
        token_try("cool", "wrong")
    assert token_try("cool", PASSWORD).status_code == 429
    # The lockout is AXES_COOLOFF_TIME long: failures older than that no longer count.
    AccessAttempt.objects.filter(username="cool").update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )
    assert token_try("cool", PASSWORD).status_code == 200


def test_an_admin_unlocks_a_user(admin_client):
    UserFactory(username="unlockme")
    for _ in range(20):
        if token_try("unlockme", "wrong").status_code == 429:
            break
    assert token_try("unlockme", PASSWORD).status_code == 429
    listing = admin_client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "unlockme" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="unlockme")
    resp = admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    assert token_try("unlockme", PASSWORD).status_code == 200


def test_the_command_unlocks_a_user_too():
    UserFactory(username="cmd")
    for _ in range(20):
        if token_try("cmd", "wrong").status_code == 429:
            break
    call_command("axes_reset_username", "cmd")
    assert token_try("cmd", PASSWORD).status_code == 200


def test_phone_sign_in_locks_a_phone_across_new_codes(settings):
    settings.FANSI_PHONE_CODE = {**settings.FANSI_PHONE_CODE, "PER_PHONE_MINUTE": 100, "PER_PHONE_DAY": 100}
    client = APIClient()
    phone = "13900139000"
    statuses, codes = [], []
    for _round in range(4):
        code = client.post("/api/auth/phone-code/", {"phone": phone}, format="json").json()["debug_code"]
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(3):
            resp = client.post("/api/auth/phone-login/", {"phone": phone, "code": wrong}, format="json")
            statuses.append(resp.status_code)
            codes.append(resp.json()["code"])
    assert "login_locked" in codes
    assert codes.index("login_locked") == settings.FANSI_LOGIN_PHONE_FAILURES - 1
    code = client.post("/api/auth/phone-code/", {"phone": phone}, format="json").json()["debug_code"]
    resp = client.post("/api/auth/phone-login/", {"phone": phone, "code": code}, format="json")
    assert resp.status_code == 429 and resp.json()["code"] == "login_locked"
    # Another phone signs in from the same address.
    other = "13700137000"
    code = client.post("/api/auth/phone-code/", {"phone": other}, format="json").json()["debug_code"]
    resp = APIClient().post("/api/auth/phone-login/", {"phone": other, "code": code}, format="json")
    assert resp.status_code == 200 and resp.json()["token"]
