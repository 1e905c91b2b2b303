"""红黑榜 effects on the recommender: black products leave the served lists and fans-to-invite, red ones get a
bounded boost, and both show in the reasons (through the real URLs)."""

from __future__ import annotations

import pytest
from django.conf import settings

from recommend.serving import recommend_for_fan, serving_reset
from tests.conftest import api_client_for
from tests.factories import ShopFactory
from tests.recommend.test_serving import _seed, _train


@pytest.fixture(autouse=True)
def _artifacts(tmp_path, monkeypatch):  # noqa: ANN001
    monkeypatch.setenv("FANSI_RECOMMEND_DIR", str(tmp_path / "models"))
    serving_reset()
    yield
    serving_reset()


def _rate_by_shops(product_id: int, verdict: str, n: int = 3) -> None:
    reason = "quality_bad" if verdict == "black" else "quality_good"
    for _ in range(n):
        body = {"entity_type": "product", "entity_id": product_id, "verdict": verdict, "reason": reason}
        resp = api_client_for(ShopFactory().owner).post("/api/ratings/", body, format="json")
        assert resp.status_code == 201, resp.content


def _picks(shop, fan, k=16):  # noqa: ANN001
    resp = api_client_for(shop.owner).get(f"/api/fans/{fan.pk}/recommendations/?k={k}")
    assert resp.status_code == 200, resp.content
    return resp.json()["picks"]


def test_black_product_is_excluded_from_picks_and_fans_to_invite(shop, django_assert_num_queries) -> None:  # noqa: ANN001
    people, _products = _seed(shop)
    _train()
    fan = people[1][0]
    before = _picks(shop, fan)
    top = before[0]["product"]["id"]
    invite = api_client_for(shop.owner).get(f"/api/products/{top}/likely-fans/?k=10").json()
    assert invite["fans"] and invite["listed"] == ""
    _rate_by_shops(top, "black")
    after = _picks(shop, fan)
    assert top not in [p["product"]["id"] for p in after]
    assert len(after) == len(before) - 1
    with django_assert_num_queries(3):  # the red/black list rides in the fan's state statement
        recommend_for_fan(fan, 5)
    invite = api_client_for(shop.owner).get(f"/api/products/{top}/likely-fans/?k=10").json()
    assert invite["fans"] == [] and invite["listed"] == "black"
    assert invite["reasons"][0]["zh"].startswith("黑榜")


def test_red_product_gets_a_bounded_boost_and_a_reason(shop) -> None:  # noqa: ANN001
    people, _products = _seed(shop)
    _train()
    fan = people[1][0]
    before = _picks(shop, fan)
    assert all(p["reasons"] == [p["reason"]] for p in before)
    scores = [p["score"] for p in before]
    span = max(scores) - min(scores)
    boost = settings.FANSI_RATINGS["RED_BOOST"] * span
    # The lowest-ranked pick that sits within the (smallest possible) boost of the one above it.
    i = max(i for i in range(2, len(before)) if scores[i - 1] - scores[i] < boost / 2)
    low = before[i]
    _rate_by_shops(low["product"]["id"], "red")
    after = _picks(shop, fan)
    moved = next(p for p in after if p["product"]["id"] == low["product"]["id"])
    assert after.index(moved) < i  # it climbed
    assert boost - 1e-3 <= moved["score"] - low["score"] < span  # bounded: a share of the range, not a jump
    assert after[0]["product"]["id"] == before[0]["product"]["id"]
    assert moved["listed"] == "red"
    assert [r["zh"] for r in moved["reasons"]][1:] == ["红榜：店主们推荐"]
    others = [p for p in after if p is not moved]
    assert all(p["listed"] == "" and len(p["reasons"]) == 1 for p in others)
