"""Phone sign-in through the real URLs: a code by (simulated) SMS, sign-in creating the account once, and
every refusal coded and changing nothing."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from shops.auth_models import PhoneAccount, PhoneCode
from shops.phone_auth import phone_normalise
from shops.sms import sms_provider

pytestmark = pytest.mark.django_db

CODE_URL = "/api/auth/phone-code/"
LOGIN_URL = "/api/auth/phone-login/"
PHONE = "13800138000"


def ask(client: APIClient, phone: str = PHONE, ip: str = "10.0.0.1"):
    return client.post(CODE_URL, {"phone": phone}, format="json", REMOTE_ADDR=ip)


def sign_in(client: APIClient, code: str, phone: str = PHONE, **extra):
    return client.post(LOGIN_URL, {"phone": phone, "code": code, **extra}, format="json")


def test_code_is_accepted_and_in_the_answer_outside_production():
    resp = ask(APIClient(), "+86 138-0013-8000")
    assert resp.status_code == 202
    body = resp.json()
    assert body["phone"] == PHONE
    assert len(body["debug_code"]) == 6 and body["debug_code"].isdigit()
    # the simulated provider "sent" the same code; only its hash is stored
    assert sms_provider().last_code(PHONE) == body["debug_code"]
    row = PhoneCode.objects.get(phone=PHONE)
    assert body["debug_code"] not in row.code_hash
    assert row.expires_at - row.created_at == dt.timedelta(minutes=10)


def test_production_answers_carry_no_code(settings):
    settings.FANSI_SMS_DEBUG_CODES = False
    resp = ask(APIClient())
    assert resp.status_code == 202
    assert "debug_code" not in resp.json()


@pytest.mark.parametrize(
    "phone", ["", "12345", "23800138000", "1380013800a", "138001380001", None, "+1 13800138000"]
)
def test_malformed_phone_is_400_phone_invalid_and_sends_nothing(phone):
    resp = APIClient().post(CODE_URL, {"phone": phone}, format="json")
    assert resp.status_code == 400
    assert resp.json()["code"] == "phone_invalid"
    assert resp.json()["message"]
    assert PhoneCode.objects.count() == 0


def test_normalise_accepts_country_prefixes():
    assert phone_normalise("0086 139 1234 5678") == "13912345678"
    assert phone_normalise("+8613912345678") == "13912345678"


def test_first_sign_in_creates_the_user_then_signs_in_to_it():
    client = APIClient()
    code = ask(client).json()["debug_code"]
    resp = sign_in(client, code, display_name="小美")
    assert resp.status_code == 200
    body = resp.json()
    assert body["created"] is True and body["token"]
    user = get_user_model().objects.get(pk=body["user"]["id"])
    assert not user.has_usable_password()
    assert user.first_name == "小美"
    assert PhoneAccount.objects.get(phone=PHONE).user == user
    # the token works on the API, and the browser session is logged in too
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api.get("/api/shops/").status_code == 200
    assert client.get("/api/shops/").status_code == 200

    # a used code is spent; a new one signs in to the same account
    assert sign_in(APIClient(), code).json()["code"] == "code_invalid"
    PhoneCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))
    again = sign_in(APIClient(), ask(APIClient()).json()["debug_code"])
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["user"]["id"] == user.pk
    assert get_user_model().objects.count() == 1


def test_wrong_code_is_400_code_invalid_and_creates_nothing():
    client = APIClient()
    code = ask(client).json()["debug_code"]
    wrong = "000000" if code != "000000" else "111111"
    resp = sign_in(client, wrong)
    assert resp.status_code == 400
    assert resp.json()["code"] == "code_invalid"
    assert get_user_model().objects.count() == 0
    assert PhoneCode.objects.get().attempts == 1


def test_no_code_asked_is_code_invalid():
    resp = sign_in(APIClient(), "123456")
    assert resp.status_code == 400 and resp.json()["code"] == "code_invalid"


def test_expired_code_is_refused():
    client = APIClient()
    code = ask(client).json()["debug_code"]
    now = timezone.now()
    PhoneCode.objects.update(
        created_at=now - dt.timedelta(minutes=11), expires_at=now - dt.timedelta(minutes=1)
    )
    assert sign_in(client, code).json()["code"] == "code_invalid"
    assert get_user_model().objects.count() == 0


def test_after_five_wrong_codes_the_code_is_dead_429():
    client = APIClient()
    code = ask(client).json()["debug_code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert sign_in(client, wrong).status_code == 400
    resp = sign_in(client, code)  # even the right code
    assert resp.status_code == 429
    assert resp.json()["code"] == "too_many_attempts"
    assert get_user_model().objects.count() == 0
    assert sign_in(client, code).status_code == 429


def test_codes_are_throttled_per_phone():
    client = APIClient()
    assert ask(client).status_code == 202
    resp = ask(client)
    assert resp.status_code == 429
    assert resp.json()["code"] == "throttled"
    assert PhoneCode.objects.count() == 1
    # a day allows ten
    for i in range(9):
        PhoneCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2 + i))
        assert ask(client).status_code == 202
    PhoneCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=30))
    assert ask(client).json()["code"] == "throttled"
    assert PhoneCode.objects.count() == 10


def test_codes_are_throttled_per_ip(settings):
    settings.FANSI_PHONE_CODE = {**settings.FANSI_PHONE_CODE, "PER_IP_HOUR": 3}
    client = APIClient()
    for n in range(3):
        assert ask(client, f"1390000000{n}", ip="10.9.9.9").status_code == 202
    resp = ask(client, "13900000009", ip="10.9.9.9")
    assert resp.status_code == 429 and resp.json()["code"] == "throttled"
    assert not PhoneCode.objects.filter(phone="13900000009").exists()
    assert ask(client, "13900000009", ip="10.9.9.10").status_code == 202


def test_a_new_code_replaces_the_old_one():
    client = APIClient()
    first = ask(client).json()["debug_code"]
    PhoneCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))
    second = ask(client).json()["debug_code"]
    if first != second:
        assert sign_in(client, first).json()["code"] == "code_invalid"
    assert sign_in(client, second).status_code == 200


def test_password_login_still_works_for_existing_accounts(fan_user):
    from tests.factories import PASSWORD

    resp = APIClient().post(
        "/api/auth/token/", {"username": fan_user.username, "password": PASSWORD}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["token"]


def test_login_page_offers_phone_sign_in(client):
    html = client.get("/login/").content.decode()
    assert 'id="signup-phone"' in html and 'id="id_username"' in html


def test_ip_throttle_reads_the_proxy_header_when_configured(settings):
    settings.FANSI_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    resp = APIClient().post(CODE_URL, {"phone": PHONE}, format="json", HTTP_X_REAL_IP="203.0.113.7")
    assert resp.status_code == 202
    assert PhoneCode.objects.get().ip == "203.0.113.7"
