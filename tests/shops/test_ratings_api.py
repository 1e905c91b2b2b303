"""红黑榜 API: the contract, the upsert one-per-shop, the Wilson score, and every bad input changing nothing."""

import math

import pytest
from django.urls import reverse

from shops.models import Factory, FactoryProduct, ShopMember, ShopRole
from shops.rating_models import Rating, RatingScore
from shops.ratings import wilson_lower
from tests.conftest import api_client_for
from tests.factories import FanFactory, ProductFactory, ShopFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/ratings/"


def rate(user, **body):
    data = {"entity_type": "product", "verdict": "black", "reason": "quality_bad", **body}
    return api_client_for(user).post(URL, data, format="json")


def test_urls_are_the_contract():
    assert reverse("api-ratings") == URL
    assert reverse("api-ratings-board") == "/api/ratings/board/"


def test_wilson_lower_bound_matches_the_formula():
    assert wilson_lower(0, 0) == 0.0
    # 9 of 10: the textbook value 0.5958
    assert math.isclose(wilson_lower(9, 10), 0.5958, abs_tol=1e-4)
    assert wilson_lower(1, 1) < wilson_lower(10, 10) < 1.0
    assert wilson_lower(5, 10) < 0.5


def test_upsert_one_rating_per_shop_whoever_on_the_team_rates():
    product = ProductFactory()
    shop = ShopFactory()
    manager = UserFactory()
    ShopMember.objects.create(shop=shop, user=manager, role=ShopRole.MANAGER)
    first = rate(shop.owner, entity_id=product.pk, text="起球")
    assert first.status_code == 201, first.content
    assert first.json()["created"] is True
    second = rate(manager, entity_id=str(product.pk), verdict="red", reason="value_good")
    assert second.status_code == 200, second.content
    assert Rating.objects.filter(entity_id=str(product.pk)).count() == 1
    rating = Rating.objects.get()
    assert (rating.shop_id, rating.verdict, rating.reason, rating.rated_by_id) == (
        shop.pk, "red", "value_good", manager.pk,
    )  # fmt: skip
    score = RatingScore.objects.get(entity_type="product", entity_id=str(product.pk))
    assert (score.red, score.black) == (1, 0)
    assert math.isclose(score.score, wilson_lower(1, 1), rel_tol=1e-6)


def test_board_counts_shops_and_orders_red_then_black():
    good, bad = ProductFactory(name="好面霜"), ProductFactory(name="坏面霜")
    owners = [ShopFactory().owner for _ in range(4)]
    for owner in owners:
        assert rate(owner, entity_id=good.pk, verdict="red", reason="quality_good").status_code == 201
        assert rate(owner, entity_id=bad.pk, verdict="black", reason="fake").status_code == 201
    rate(owners[0], entity_id=bad.pk, verdict="black", reason="quality_bad")  # still one shop
    resp = api_client_for(owners[0]).get("/api/ratings/board/?entity_type=product&category=beauty")
    assert resp.status_code == 200
    rows = {r["entity_id"]: r for r in resp.json()}
    assert rows[str(good.pk)]["red"] == 4 and rows[str(good.pk)]["black"] == 0
    assert rows[str(bad.pk)]["black"] == 4 and rows[str(bad.pk)]["side"] == "black"
    assert rows[str(bad.pk)]["status"] == "black" and rows[str(good.pk)]["status"] == "red"
    assert {r["code"]: r["count"] for r in rows[str(bad.pk)]["reasons"]} == {"fake": 3, "quality_bad": 1}
    assert math.isclose(rows[str(good.pk)]["score"], round(wilson_lower(4, 4), 4))
    assert rows[str(good.pk)]["refund_rate"] is None  # nothing delivered yet
    for key in ("entity_id", "score", "red", "black", "reviews_avg", "refund_rate", "name"):
        assert key in rows[str(good.pk)]
    assert resp.json()[0]["entity_id"] == str(good.pk)
    other = api_client_for(owners[0]).get("/api/ratings/board/?entity_type=product&category=fruit")
    assert other.json() == []


def test_brand_factory_and_origin_entities():
    owner = ShopFactory().owner
    ProductFactory(brand="花西子")
    factory = Factory.objects.create(name="广州美妆厂")
    FactoryProduct.objects.create(
        factory=factory, name="面霜", unit_cost="10", category="beauty", origin="广州"
    )
    assert rate(owner, entity_type="brand", entity_id="花西子").status_code == 201
    assert (
        rate(
            owner, entity_type="factory", entity_id=factory.pk, verdict="red", reason="fast_ship"
        ).status_code
        == 201
    )
    assert (
        rate(owner, entity_type="origin", entity_id="广州", verdict="red", reason="quality_good").status_code
        == 201
    )
    resp = api_client_for(owner).get("/api/ratings/board/?entity_type=factory&category=beauty")
    assert [(r["entity_id"], r["name"], r["red"]) for r in resp.json()] == [
        (str(factory.pk), "广州美妆厂", 1)
    ]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"entity_id": "999999"}, 404, "entity_not_found"),
        ({"entity_type": "brand", "entity_id": "不存在"}, 404, "entity_not_found"),
        ({"entity_type": "origin", "entity_id": "火星"}, 404, "entity_not_found"),
        ({"entity_type": "factory", "entity_id": "abc"}, 404, "entity_not_found"),
        ({"entity_type": "shop"}, 400, "entity_type_invalid"),
        ({"verdict": "grey"}, 400, "verdict_invalid"),
        ({"reason": "because"}, 400, "reason_invalid"),
        ({"text": "长" * 1001}, 400, "text_invalid"),
    ],
)
def test_bad_input_is_coded_and_changes_nothing(body, status, code):
    product = ProductFactory()
    body = {"entity_id": product.pk, **body}
    resp = rate(ShopFactory().owner, **body)
    assert resp.status_code == status, resp.content
    assert resp.json()["code"] == code
    assert resp.json()["message"]
    assert not Rating.objects.exists() and not RatingScore.objects.exists()


def test_fans_and_assistants_may_not_rate():
    product = ProductFactory()
    fan = FanFactory()
    resp = rate(fan.user, entity_id=product.pk)
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
    assistant = UserFactory()
    ShopMember.objects.create(shop=ShopFactory(), user=assistant, role=ShopRole.ASSISTANT)
    resp = rate(assistant, entity_id=product.pk)
    assert resp.status_code == 403 and resp.json()["code"] == "role_forbidden"
    assert api_client_for(fan.user).get("/api/ratings/board/").status_code == 403
    assert not Rating.objects.exists()


def test_hidden_rating_stops_counting():
    product = ProductFactory()
    owners = [ShopFactory().owner for _ in range(3)]
    for owner in owners:
        rate(owner, entity_id=product.pk)
    assert RatingScore.objects.get(entity_id=str(product.pk)).status == "black"
    Rating.objects.filter(shop__owner=owners[0]).update(hidden=True)
    from shops.ratings import refresh_scores

    refresh_scores([("product", str(product.pk))])
    score = RatingScore.objects.get(entity_id=str(product.pk))
    assert (score.black, score.status) == (2, "")


def test_sales_evidence_weighs_the_rating_of_a_shop_that_sold_it():
    from shops import hooks

    seller_product = ProductFactory()
    seller = seller_product.shop
    hooks.rating_evidence.register(
        "test", lambda shop_id, pids: {pids[0]: (9, 2)} if shop_id == seller.pk else {}
    )
    try:
        rate(seller.owner, entity_id=seller_product.pk, verdict="red", reason="quality_good")
        rate(ShopFactory().owner, entity_id=seller_product.pk)
    finally:
        hooks.rating_evidence.unregister("test")
    ratings = dict(Rating.objects.values_list("shop_id", "weight"))
    assert math.isclose(ratings[seller.pk], 1 + math.log1p(9) + math.log1p(2))
    assert [w for s, w in ratings.items() if s != seller.pk] == [1.0]
    score = RatingScore.objects.get()
    assert score.score > score.black_score  # the seller's red outweighs a non-seller's black
    assert (score.red, score.black) == (1, 1)


def test_beat_sweep_reweighs_ratings_from_new_sales_evidence():
    from shops import hooks
    from shops.tasks import rating_scores_refresh_task

    product = ProductFactory()
    rate(product.shop.owner, entity_id=product.pk)
    assert Rating.objects.get().weight == 1.0
    hooks.rating_evidence.register("test", lambda shop_id, pids: {pids[0]: (4, 0)})
    try:
        assert rating_scores_refresh_task.delay().get() == 1
    finally:
        hooks.rating_evidence.unregister("test")
    assert math.isclose(Rating.objects.get().weight, 1 + math.log1p(4))
    assert math.isclose(RatingScore.objects.get().black_weight, 1 + math.log1p(4))
