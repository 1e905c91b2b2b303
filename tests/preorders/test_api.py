import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from preorders.models import Campaign, Pledge

pytestmark = pytest.mark.django_db


def body(product, **kw):
    data = {
        "kind": "group",
        "product": product.pk,
        "title": "团购",
        "target_quantity": 10,
        "cap": 12,
        "deadline": (timezone.now() + dt.timedelta(days=2)).isoformat(),
        "deposit_percent": 20,
        "per_fan_limit": 5,
        "tiers": [{"min_quantity": 10, "unit_price": "400.00"}],
    }
    data.update(kw)
    if "balance_deadline" not in kw and data["kind"] == "group":
        # Two days after whatever deadline the test chose (a string that parses, or left for the API to refuse).
        deadline = dt.datetime.fromisoformat(str(data["deadline"])) if _iso(data["deadline"]) else None
        try:
            if deadline is not None:
                data["balance_deadline"] = (deadline + dt.timedelta(days=2)).isoformat()
        except OverflowError:
            pass  # a deadline at the end of time: the API refuses the deadline first
    return data


def _iso(value) -> bool:
    try:
        dt.datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True


@pytest.fixture
def live(api_for, owner, product):
    created = api_for(owner).post("/api/campaigns/", body(product[0]), format="json")
    assert created.status_code == 201, created.json()
    cid = created.json()["id"]
    launched = api_for(owner).post(f"/api/campaigns/{cid}/launch/")
    assert launched.status_code == 200 and launched.json()["status"] == "live"
    return cid


def test_create_launch_and_detail(api_for, owner, fan_user, live, product):
    detail = api_for(fan_user).get(f"/api/campaigns/{live}/").json()
    assert (
        detail["status"] == "live" and detail["committed_quantity"] == 0 and detail["target_quantity"] == 10
    )
    assert detail["cap"] == 12 and detail["current_unit_price"] == "500.00"
    assert [c["id"] for c in api_for(fan_user).get("/api/campaigns/").json()] == [live]
    assert [c["id"] for c in api_for(owner).get("/api/campaigns/").json()] == [live]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"deadline": "2001-01-01T00:00:00Z"}, 400, "deadline_past"),
        (
            {"tiers": [{"min_quantity": 10, "unit_price": "400"}, {"min_quantity": 5, "unit_price": "300"}]},
            400,
            "tiers_not_increasing",
        ),
        ({"deposit_percent": 150}, 400, "deposit_percent_invalid"),
        ({"deposit_percent": -5}, 400, "deposit_percent_invalid"),
        ({"target_quantity": 0}, 400, "target_quantity_invalid"),
        ({"title": ""}, 400, "title_invalid"),
    ],
)
def test_create_bad_input(api_for, owner, product, change, status, code):
    response = api_for(owner).post("/api/campaigns/", body(product[0], **change), format="json")
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]
    assert Campaign.objects.count() == 0


def test_fan_cannot_create_or_launch(api_for, fan_user, product, live):
    assert api_for(fan_user).post("/api/campaigns/", body(product[0]), format="json").status_code == 404
    assert api_for(fan_user).post(f"/api/campaigns/{live}/launch/").status_code == 404


def test_pledge_flow_with_idempotency(api_for, fan_user, live, product):
    client = api_for(fan_user)
    url = f"/api/campaigns/{live}/pledges/"
    first = client.post(
        url, {"variant": product[1].pk, "quantity": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201
    out = first.json()
    assert (
        out["quantity"] == 2 and out["deposit_amount"] == "200.00" and out["status"] == "active" and out["id"]
    )
    again = client.post(
        url, {"variant": product[1].pk, "quantity": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert again.status_code == 201 and again.json() == out
    other = client.post(
        url, {"variant": product[1].pk, "quantity": 3}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Pledge.objects.count() == 1
    assert client.get(f"/api/campaigns/{live}/").json()["committed_quantity"] == 2
    mine = client.get("/api/me/pledges/").json()
    assert [p["id"] for p in mine] == [out["id"]]
    changed = client.patch(f"/api/pledges/{out['id']}/", {"quantity": 4}, format="json")
    assert changed.status_code == 200 and changed.json()["deposit_amount"] == "400.00"
    cancelled = client.post(f"/api/pledges/{out['id']}/cancel/", {"reason": "不要了"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"quantity": 0}, 400, "quantity_invalid"),
        ({"quantity": -2}, 400, "quantity_invalid"),
        ({"quantity": 6}, 409, "per_fan_limit"),
        ({"variant": "other"}, 400, "variant_invalid"),
    ],
)
def test_pledge_bad_input(api_for, fan_user, live, product, shop, payload, status, code):
    from tests.preorders.conftest import shop_product

    data = {"variant": product[1].pk, "quantity": 1, **payload}
    if data["variant"] == "other":
        data["variant"] = shop_product(shop)[1].pk
    response = api_for(fan_user).post(f"/api/campaigns/{live}/pledges/", data, format="json")
    assert response.status_code == status and response.json()["code"] == code and response.json()["message"]
    assert Pledge.objects.count() == 0


def test_sold_out_is_409(api_for, shop, live, product):
    from tests.factories import FanFactory

    for q in (5, 5):
        assert (
            api_for(FanFactory(shop=shop).user)
            .post(f"/api/campaigns/{live}/pledges/", {"variant": product[1].pk, "quantity": q}, format="json")
            .status_code
            == 201
        )
    response = api_for(FanFactory(shop=shop).user).post(
        f"/api/campaigns/{live}/pledges/", {"variant": product[1].pk, "quantity": 3}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "sold_out"


def test_pledge_after_deadline_is_409(api_for, fan_user, live, product):
    Campaign.objects.filter(pk=live).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    response = api_for(fan_user).post(
        f"/api/campaigns/{live}/pledges/", {"variant": product[1].pk, "quantity": 1}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "campaign_closed"


def test_payment_failure_is_402_and_stores_nothing(api_for, fan_user, live, product, provider):
    provider.fail_next()
    response = api_for(fan_user).post(
        f"/api/campaigns/{live}/pledges/",
        {"variant": product[1].pk, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="p",
    )
    assert response.status_code == 402 and response.json()["code"] == "payment_failed"
    assert Pledge.objects.count() == 0


def test_subscription_create_and_actions(api_for, owner, fan_user, product):
    data = body(
        product[0], kind="subscription", cadence="monthly", cycles=None, cutoff_hours=24, tiers=[], cap=None
    )
    created = api_for(owner).post("/api/campaigns/", data, format="json")
    assert created.status_code == 201 and created.json()["cadence"] == "monthly"
    cid = created.json()["id"]
    api_for(owner).post(f"/api/campaigns/{cid}/launch/")
    sub = (
        api_for(fan_user)
        .post(f"/api/campaigns/{cid}/pledges/", {"variant": product[1].pk, "quantity": 1}, format="json")
        .json()
    )
    client = api_for(fan_user)
    assert client.post(f"/api/pledges/{sub['id']}/skip/").json()["skipped_cycle"] == 1
    assert client.post(f"/api/pledges/{sub['id']}/pause/").json()["status"] == "paused"
    assert client.post(f"/api/pledges/{sub['id']}/resume/").json()["status"] == "active"
    assert (
        client.post(f"/api/pledges/{sub['id']}/cancel/", {"reason": "搬家"}, format="json").json()["status"]
        == "cancelled"
    )


def test_campaign_list_no_n_plus_one(api_for, owner, product, django_assert_max_num_queries):
    for _ in range(5):
        api_for(owner).post("/api/campaigns/", body(product[0]), format="json")
    with django_assert_max_num_queries(6):
        assert len(api_for(owner).get("/api/campaigns/").json()) == 5


__all__ = ["override_settings"]


def test_pledge_endpoint_authenticates_like_the_rest_of_the_api(api_for, fan_user, live, product):
    """Its cheaper token lookup gives the same answers: the user, or 401 for a bad token or inactive user."""
    url = f"/api/campaigns/{live}/pledges/"
    payload = {"variant": product[1].pk, "quantity": 1}
    client = api_for(fan_user)
    placed = client.post(url, payload, format="json")
    assert placed.status_code == 201
    assert Pledge.objects.get(pk=placed.json()["id"]).user_id == fan_user.pk

    def both(client: APIClient) -> tuple[tuple[int, dict], tuple[int, dict]]:
        pledge = client.post(url, payload, format="json")
        other = client.post("/api/campaigns/", {}, format="json")
        return (pledge.status_code, pledge.json()), (other.status_code, other.json())

    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    bad, reference = both(stranger)
    assert bad == reference and bad[0] == 401
    assert both(APIClient())[0] == both(APIClient())[1] and both(APIClient())[0][0] in (401, 403)
    fan_user.is_active = False
    fan_user.save(update_fields=["is_active"])
    inactive, reference = both(client)
    assert inactive == reference and inactive[0] == 401
    fan_user.is_active = True
    fan_user.save(update_fields=["is_active"])
    Token.objects.filter(user=fan_user).delete()
    revoked, reference = both(client)
    assert revoked == reference and revoked[0] == 401
    assert Pledge.objects.count() == 1
