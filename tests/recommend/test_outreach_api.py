"""Acting on recommendations through the API: sending a pick to a fan and saving likely fans as a segment.

Both writes run in recommend.services; these go through HTTP and check status, body and what is stored.
"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from fans.chat.models import Conversation, Message
from fans.crm.models import Segment
from shops.models import ShopRole
from tests.factories import FanFactory, ProductFactory, ShopMemberFactory

URLS = "tests.recommend.urls"
pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]


def _client(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.force_authenticate(user)
    return client


def _error(response) -> dict:  # noqa: ANN001
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["message"], body
    return body


def test_send_pick_to_a_fan_without_a_conversation_is_409_and_sends_nothing(shop, owner) -> None:  # noqa: ANN001
    fan = FanFactory(shop=shop)
    Conversation.objects.filter(fan=fan).delete()
    product = ProductFactory(shop=shop)
    response = _client(owner).post(
        f"/api/fans/{fan.pk}/recommendations/send/", {"product": product.pk}, format="json"
    )
    assert response.status_code == 409 and _error(response)["code"] == "no_conversation"
    assert Message.objects.count() == 0


def test_send_pick_again_with_the_same_client_id_returns_the_first_card(shop, owner, no_quiet_hours) -> None:  # noqa: ANN001
    fan = FanFactory(shop=shop)
    product = ProductFactory(shop=shop)
    payload = {"product": product.pk, "reason": "新品", "client_id": str(uuid.uuid4())}
    url = f"/api/fans/{fan.pk}/recommendations/send/"
    first = _client(owner).post(url, payload, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["conversation"] == fan.conversation.pk
    assert body["payload"]["product"] == product.pk and body["payload"]["reason"] == "新品"
    again = _client(owner).post(url, payload, format="json")
    assert again.status_code == 200 and again.json() == body
    assert list(Message.objects.values_list("pk", "kind")) == [(body["message"], "product_card")]


def test_send_pick_is_404_for_another_shop(shop, other_shop) -> None:  # noqa: ANN001
    fan = FanFactory(shop=shop)
    response = _client(other_shop.owner).post(
        f"/api/fans/{fan.pk}/recommendations/send/", {"product": ProductFactory(shop=shop).pk}, format="json"
    )
    assert response.status_code == 404 and Message.objects.count() == 0


def test_save_likely_fans_twice_with_one_name_is_409_and_keeps_one_segment(shop) -> None:  # noqa: ANN001
    for _ in range(3):
        FanFactory(shop=shop)
    product = ProductFactory(shop=shop)
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    url = f"/api/products/{product.pk}/likely-fans/save-segment/"
    first = _client(manager).post(url, {"name": "种子粉丝", "k": 2}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["count"] == len(first.json()["filter"]["fan_ids"]) <= 2
    again = _client(manager).post(url, {"name": "种子粉丝", "k": 2}, format="json")
    assert again.status_code == 409 and _error(again)["code"] == "duplicate_name"
    assert list(Segment.objects.values_list("pk", flat=True)) == [first.json()["id"]]


def test_save_likely_fans_stores_nothing_when_explicit_fans_are_not_kept(shop, monkeypatch) -> None:  # noqa: ANN001
    FanFactory(shop=shop)
    product = ProductFactory(shop=shop)
    # A filter cleaner that drops fan_ids would turn the segment into "every fan": refused, and rolled back.
    monkeypatch.setattr("fans.crm.services.fans.fan_filter_clean", lambda shop, flt: {})
    response = _client(shop.owner).post(
        f"/api/products/{product.pk}/likely-fans/save-segment/", {"name": "种子", "k": 5}, format="json"
    )
    assert response.status_code == 409 and _error(response)["code"] == "fan_ids_unsupported"
    assert Segment.objects.count() == 0
