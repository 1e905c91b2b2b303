"""Fans most likely to take a product (GET /api/products/<id>/likely-fans/): cached fan blocks, the head of
the ranking only, opt-outs and buyers read per call (issue 15's serving ceiling)."""

from __future__ import annotations

import numpy as np
import pytest

from fans.chat.models import Fan
from recommend.models import STRONG_KINDS, InteractionKind
from recommend.services import interaction_record, product_tags_derive
from recommend.serving import product_fans, serving_model
from recommend.serving.model import _combine, combine_many
from shops.models import ShopRole
from tests.factories import FanFactory, ProductFactory, ShopMemberFactory
from tests.recommend.test_serving import _artifacts, _client, _seed, _tag, _tag_fan, _train  # noqa: F401

URLS = "tests.recommend.urls"


def test_combine_many_matches_one_fan_at_a_time() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(size=(7, 3)).astype(np.float32)
    rows = [np.array([0, 3]), np.array([], dtype=np.int64), np.array([6]), np.array([1, 2, 5])]
    for mode in ("sum", "mean", "l2"):
        many = combine_many(table, rows, mode)
        for n, r in enumerate(rows):
            np.testing.assert_allclose(many[n], _combine(table[r], mode), rtol=1e-5, atol=1e-6)
        bias = combine_many(table[:, 0], rows, mode)
        for n, r in enumerate(rows):
            assert bias[n] == pytest.approx(float(_combine(table[r, 0][:, None], mode)[0]), abs=1e-6)


def _ids(resp) -> list[int]:  # noqa: ANN001
    assert resp.status_code == 200, resp.content
    return [row["id"] for row in resp.json()["fans"]]


@pytest.mark.urls(URLS)
def test_likely_fans_skip_opt_outs_and_new_buyers_past_the_first_chunk(shop, monkeypatch) -> None:  # noqa: ANN001
    _seed(shop, fans=30)
    _train()
    product = ProductFactory(shop=shop, name="新品控油精华", description="适合油皮")
    product_tags_derive(product_ids=[product.pk])
    late = FanFactory(shop=shop)  # joined after training: scored from its tags
    _tag_fan(late, _tag("oily"))
    manager = _client(ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user)
    everyone = _ids(manager.get(f"/api/products/{product.pk}/likely-fans/?k=1000"))
    assert len(everyone) == 31 and late.pk in everyone and len(set(everyone)) == 31
    # The same ranking with a head of 2 fans per statement: chunks double until k are found.
    monkeypatch.setattr(product_fans, "HEAD_CHUNK", 2)
    top = _ids(manager.get(f"/api/products/{product.pk}/likely-fans/?k=6"))
    assert top == everyone[:6]
    # Opt-outs and a pledge made after training take effect on the next call, without retraining.
    Fan.objects.filter(pk=top[0]).update(promotions_opt_out=True)
    Fan.objects.filter(pk=top[1]).update(personalisation_opt_out=True)
    interaction_record(fan=Fan.objects.get(pk=top[2]), product=product, kind=InteractionKind.PLEDGE)
    again = _ids(manager.get(f"/api/products/{product.pk}/likely-fans/?k=6"))
    assert again == [pk for pk in everyone if pk not in top[:3]][:6]
    # The fan blocks were built once for this shop and model, and reused.
    assert len(serving_model()._shop_fan_blocks) == 1


def _one_fan_at_a_time(model, product, buyers: set[int]) -> list[tuple[int, float]]:  # noqa: ANN001
    """The cold-items ranking scored fan by fan through ServingModel.user_vectors (no shop blocks, no batched
    feature rows): the reference the vectorised path must reproduce, order and scores."""
    from recommend.features import fan_features

    parts, _ = model.regime("cold_items")
    item_row = int(np.flatnonzero(model.artifacts.item_pks == product.pk)[0])
    fan_pks = list(Fan.objects.filter(shop_id=product.shop_id).order_by("pk").values_list("pk", flat=True))
    tags = fan_features(fan_pks)
    scored = []
    for pk in fan_pks:
        row = model.user_row(pk)
        vectors = model.user_vectors(parts, row, model.user_feature_rows(tags.get(pk, [])))
        score = sum(
            p.scale * (float(v @ p.V[item_row]) + b + float(p.ib[item_row]))
            for p, (v, b) in zip(parts, vectors, strict=True)
        )
        scored.append((row is not None and bool(model.artifacts.known_users[row]), pk, score))
    # Fans with history first, then the rest (the concatenation order), each group in model row/pk order.
    known = sorted((s for s in scored if s[0]), key=lambda s: int(model.user_row(s[1])))
    cold = sorted((s for s in scored if not s[0]), key=lambda s: s[1])
    ranked = [(pk, score) for _, pk, score in known + cold if pk not in buyers]
    order = np.argsort(-np.array([s for _, s in ranked], dtype=np.float32), kind="stable")
    return [ranked[int(i)] for i in order]


@pytest.mark.urls(URLS)
def test_likely_fans_match_scoring_each_fan_alone(shop) -> None:  # noqa: ANN001
    _seed(shop, fans=30)
    _train()
    product = shop.products.order_by("pk").first()
    late = [FanFactory(shop=shop) for _ in range(3)]  # joined after training: tags only (and none)
    _tag_fan(late[0], _tag("oily"))
    _tag_fan(late[1], _tag("dry"))
    buyers = set(product.interactions.filter(kind__in=STRONG_KINDS).values_list("fan_id", flat=True))
    assert buyers, "the seeded product has buyers, who must be left out"
    picks = product_fans.fans_for_product(product, 1000)
    expected = _one_fan_at_a_time(serving_model(), product, buyers)
    assert [p.fan.pk for p in picks] == [pk for pk, _ in expected]
    np.testing.assert_allclose([p.score for p in picks], [s for _, s in expected], rtol=1e-4, atol=1e-5)
    assert {late[0].pk, late[1].pk, late[2].pk} <= {p.fan.pk for p in picks}
