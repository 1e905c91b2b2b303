"""POST/DELETE /api/push/subscriptions/: shapes, own-only deletes, and the endpoint rules (no SSRF)."""

import socket

import pytest

from reach.models import PushPreference, PushSubscription
from tests.reach.pushserver import DeviceKeys

pytestmark = pytest.mark.django_db


def _body(endpoint, keys=None):
    return {"endpoint": endpoint, "keys": keys or DeviceKeys().keys()}


def test_subscription_created_with_201_and_listed(api_for, fan_user):
    client = api_for(fan_user)
    response = client.post(
        "/api/push/subscriptions/", _body("http://127.0.0.1:9/push/a"), format="json", HTTP_USER_AGENT="Phone"
    )
    assert response.status_code == 201, response.content
    row = PushSubscription.objects.get()
    assert (row.user_id, row.endpoint, row.user_agent) == (fan_user.pk, "http://127.0.0.1:9/push/a", "Phone")
    listed = client.get("/api/push/subscriptions/").json()["results"]
    assert [d["id"] for d in listed] == [row.pk]


def test_same_endpoint_again_moves_to_the_new_user_without_a_duplicate(api_for, fan_user, owner):
    api_for(fan_user).post("/api/push/subscriptions/", _body("https://push.example.com/x"), format="json")
    response = api_for(owner).post(
        "/api/push/subscriptions/", _body("https://push.example.com/x"), format="json"
    )
    assert response.status_code == 201
    assert list(PushSubscription.objects.values_list("user_id", flat=True)) == [owner.pk]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_body("not a url"), "push_endpoint_invalid"),
        (_body(""), "push_endpoint_invalid"),
        (_body(12), "push_endpoint_invalid"),
        (_body("ftp://push.example.com/x"), "push_endpoint_invalid"),
        (_body("http://push.example.com/x"), "push_endpoint_refused"),
        ({"endpoint": "https://push.example.com/x"}, "push_keys_invalid"),
        (_body("https://push.example.com/x", {"p256dh": "abc", "auth": "def"}), "push_keys_invalid"),
        (
            _body("https://push.example.com/x", {"p256dh": DeviceKeys().p256dh, "auth": "!!"}),
            "push_keys_invalid",
        ),
    ],
)
def test_bad_subscription_is_a_coded_400_and_stores_nothing(api_for, fan_user, body, code):
    response = api_for(fan_user).post("/api/push/subscriptions/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not PushSubscription.objects.exists()


@pytest.fixture
def production(settings):
    settings.FANSI_PUSH_PUBLIC_ENDPOINTS_ONLY = True
    return settings


def _resolves_to(monkeypatch, address):
    def fake(host, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9/push/a",  # plain http, loopback
        "https://127.0.0.1/push/a",
        "https://[::1]/push/a",
        "https://10.1.2.3/push/a",
        "https://192.168.0.10/push/a",
        "https://169.254.169.254/latest/meta-data",  # the cloud metadata service
        "https://localhost/push/a",
    ],
)
def test_production_refuses_private_and_loopback_endpoints(api_for, fan_user, production, endpoint):
    response = api_for(fan_user).post("/api/push/subscriptions/", _body(endpoint), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "push_endpoint_refused"
    assert not PushSubscription.objects.exists()


def test_production_refuses_a_public_name_that_resolves_to_a_private_address(
    api_for, fan_user, production, monkeypatch
):
    _resolves_to(monkeypatch, "10.0.0.7")
    response = api_for(fan_user).post(
        "/api/push/subscriptions/", _body("https://evil.example.com/x"), format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "push_endpoint_refused")


def test_production_accepts_https_on_a_public_address(api_for, fan_user, production, monkeypatch):
    _resolves_to(monkeypatch, "142.250.72.10")
    response = api_for(fan_user).post(
        "/api/push/subscriptions/", _body("https://fcm.googleapis.com/fcm/send/abc"), format="json"
    )
    assert response.status_code == 201, response.content


def test_delete_own_subscription_and_404_for_anyone_elses(api_for, fan_user, stranger):
    created = api_for(fan_user).post(
        "/api/push/subscriptions/", _body("https://push.example.com/x"), format="json"
    )
    sub_id = created.json()["id"]
    assert api_for(stranger).delete(f"/api/push/subscriptions/{sub_id}/").status_code == 404
    assert PushSubscription.objects.filter(pk=sub_id).exists()
    assert api_for(fan_user).delete(f"/api/push/subscriptions/{sub_id}/").status_code == 204
    assert not PushSubscription.objects.exists()
    assert api_for(fan_user).delete(f"/api/push/subscriptions/{sub_id}/").status_code == 404


def test_preview_preference_defaults_off_and_is_set(api_for, fan_user):
    client = api_for(fan_user)
    assert client.get("/api/push/preference/").json() == {"previews": False}
    assert client.patch("/api/push/preference/", {"previews": True}, format="json").json() == {
        "previews": True
    }
    assert PushPreference.objects.get(user=fan_user).previews is True
    bad = client.patch("/api/push/preference/", {"previews": "yes"}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "previews_invalid")
    assert PushPreference.objects.get(user=fan_user).previews is True


def test_service_worker_is_served_from_the_root_scope(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Content-Type"].startswith("application/javascript")
    assert b"showNotification" in response.content


def test_webpush_keys_prints_a_usable_pair():
    from io import StringIO

    from django.core.management import call_command
    from py_vapid import Vapid

    out = StringIO()
    call_command("webpush_keys", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    vapid = Vapid.from_string(lines["FANSI_VAPID_PRIVATE_KEY"])
    assert vapid.sign({"aud": "https://x.example", "sub": "mailto:a@b.c", "exp": 9999999999})["Authorization"]
    assert len(lines["FANSI_VAPID_PUBLIC_KEY"]) == 87  # 65 bytes, base64url without padding
