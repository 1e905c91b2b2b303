"""Serving's factor tables reproduce the rankers, and the tags-only path really uses tags."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recommend.data import Catalog, Interactions, build_train_set, split_interactions
from recommend.evaluation import evaluate_ranker
from recommend.rankers import (
    BlendRanker,
    ContentRanker,
    LightFMConfig,
    LightFMRanker,
    PopularityRanker,
    TagPopularityRanker,
)
from recommend.serving import ServingModel
from recommend.synthetic import generate
from recommend.training import Artifacts, factor_scores, factorize

HYBRID = LightFMConfig(features=True, no_components=16, epochs=20, user_identity=False)


def _catalog(tag_strength: float, seed: int = 0) -> Catalog:
    data = generate(users=500, items=60, tag_strength=tag_strength, seed=seed)
    users = {u: n for n, u in enumerate(dict.fromkeys(u for u, _, _ in data.interactions))}
    items = {f"i{i}": i for i in range(60)}
    pairs: dict[tuple[int, int], float] = {}
    for u, i, w in data.interactions:
        pairs[(users[u], items[i])] = pairs.get((users[u], items[i]), 0) + w
    keys = np.array(list(pairs), dtype=np.int32)
    user_tags: list[list[str]] = [[] for _ in users]
    for u, f in data.user_features:
        if u in users:
            user_tags[users[u]].append(f)
    item_tags: list[list[str]] = [[] for _ in items]
    for i, f in data.item_features:
        item_tags[items[i]].append(f)
    return Catalog(
        user_ids=list(users),
        item_ids=list(items),
        interactions=Interactions(
            keys[:, 0], keys[:, 1], np.array(list(pairs.values()), np.float32), len(users), 60
        ),
        user_tags=[tuple(sorted(t)) for t in user_tags],
        item_tags=[tuple(sorted(t)) for t in item_tags],
        has_weights=True,
    )


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return _catalog(0.8)


def _centered(scores: np.ndarray) -> np.ndarray:
    return scores - scores.mean(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "kind", ["popularity", "tag_popularity", "content", "lightfm", "lightfm_fans_per_item", "blend"]
)
def test_factor_tables_rank_like_the_ranker(catalog: Catalog, kind: str) -> None:
    train = build_train_set(catalog, catalog.interactions)
    if kind == "blend":
        base = LightFMRanker(HYBRID).fit(train)
        ranker = BlendRanker(base, TagPopularityRanker().fit(train), 2.0).fit(train)
    else:
        ranker = {
            "popularity": PopularityRanker,
            "tag_popularity": TagPopularityRanker,
            "content": ContentRanker,
            "lightfm": lambda: LightFMRanker(HYBRID),
            "lightfm_fans_per_item": lambda: LightFMRanker(replace(HYBRID, transpose=True)),
        }[kind]().fit(train)
    users, items = np.arange(0, train.n_users, 7), np.arange(train.n_items)
    expected = ranker.score(users, items)
    got = factor_scores(factorize(ranker, train), users, items)
    np.testing.assert_allclose(_centered(got), _centered(expected), atol=2e-3)


def _serving_model(catalog: Catalog, train, ranker) -> ServingModel:  # noqa: ANN001
    parts = factorize(ranker, train)
    return ServingModel(
        Artifacts(
            version="t",
            user_pks=np.arange(catalog.n_users, dtype=np.int64),
            user_shops=np.zeros(catalog.n_users, dtype=np.int64),
            known_users=np.asarray(train.known_users),
            item_pks=np.arange(catalog.n_items, dtype=np.int64),
            item_shops=np.zeros(catalog.n_items, dtype=np.int64),
            user_vocab=list(train.user_vocab),
            item_vocab=list(train.item_vocab),
            models={"m": parts},
            regimes={"cold_users": {"model": "m", "name": ranker.name}},
        )
    )


def _tags_only_precision(catalog: Catalog, model: ServingModel, split, k: int = 10) -> float:  # noqa: ANN001
    """Precision@k of held-out fans scored the way serving scores a tags-only fan (live tags, no row)."""
    parts, _ = model.regime("cold_users")
    test = split.test.to_csr(binary=True)
    hits = []
    for u in split.test.user_set():
        rows = model.user_feature_rows(list(catalog.user_tags[u]) + ["never:seen"])
        scores = np.zeros(catalog.n_items, dtype=np.float32)
        for p, (vector, bias) in zip(parts, model.user_vectors(parts, None, rows), strict=True):
            scores += p.scale * (p.V @ vector + p.ib + bias)
        top = np.argsort(-scores, kind="stable")[:k]
        hits.append(test[u, top].sum() / k)
    return float(np.mean(hits))


def test_hybrid_beats_popularity_for_tags_only_fans_when_tags_decide() -> None:
    catalog = _catalog(1.0, seed=1)
    split = split_interactions(catalog.interactions, "cold_users", seed=0)
    train = build_train_set(catalog, split.train)
    hybrid = LightFMRanker(HYBRID).fit(train)
    popularity = PopularityRanker().fit(train)
    hybrid_p = _tags_only_precision(catalog, _serving_model(catalog, train, hybrid), split)
    popularity_p = _tags_only_precision(catalog, _serving_model(catalog, train, popularity), split)
    # The serving path agrees with the offline evaluation of the same ranker...
    offline = evaluate_ranker(hybrid, split, 10)["precision_at_k"]
    assert hybrid_p == pytest.approx(offline, abs=0.02)
    # ...and tags carry real signal through it.
    assert hybrid_p > 1.15 * popularity_p, (hybrid_p, popularity_p)


def test_tags_only_path_gains_nothing_when_tags_are_noise() -> None:
    """The same comparison can fail: with tag_strength 0 the hybrid's tags-only lift disappears."""
    catalog = _catalog(0.0, seed=1)
    split = split_interactions(catalog.interactions, "cold_users", seed=0)
    train = build_train_set(catalog, split.train)
    hybrid_p = _tags_only_precision(
        catalog, _serving_model(catalog, train, LightFMRanker(HYBRID).fit(train)), split
    )
    popularity_p = _tags_only_precision(
        catalog, _serving_model(catalog, train, PopularityRanker().fit(train)), split
    )
    assert hybrid_p < 1.15 * popularity_p, (hybrid_p, popularity_p)


def test_unseen_features_are_ignored() -> None:
    catalog = _catalog(0.8)
    train = build_train_set(catalog, catalog.interactions)
    model = _serving_model(catalog, train, LightFMRanker(HYBRID).fit(train))
    assert len(model.user_feature_rows(["never:seen", "shop99.x:y"])) == 0
    parts, _ = model.regime("cold_users")
    ((vector, bias),) = model.user_vectors(parts, None, model.user_feature_rows(["never:seen"]))
    assert np.all(vector == 0) and np.isfinite(bias)


def test_fans_per_item_model_serves_new_products_and_tags_only_fans_like_the_ranker() -> None:
    # Trained on the transpose, LightFM's user and item sides swap: the factor tables must swap them back.
    catalog = _catalog(0.8)
    config = replace(HYBRID, transpose=True, user_identity=True, item_identity=True)

    split = split_interactions(catalog.interactions, "cold_items", seed=0)
    train = build_train_set(catalog, split.train)
    ranker = LightFMRanker(config).fit(train)
    model = _serving_model(catalog, train, ranker)
    parts = model.artifacts.models["m"]
    new_features = [
        np.array(sorted({model.item_vocab[f] for f in catalog.item_tags[i] if f in model.item_vocab}))
        for i in split.held_out
    ]
    users = np.arange(train.n_users)
    got = np.zeros((len(users), len(split.held_out)), dtype=np.float32)
    for p in parts:
        V, ib = model.item_block(p, np.array([], dtype=np.int64), new_features)
        got += p.scale * (p.U[users] @ V.T + p.ub[users][:, None] + ib[None, :])
    np.testing.assert_allclose(got, ranker.score(users, split.held_out), atol=1e-4)

    split = split_interactions(catalog.interactions, "cold_users", seed=0)
    train = build_train_set(catalog, split.train)
    ranker = LightFMRanker(config).fit(train)
    model = _serving_model(catalog, train, ranker)
    parts = model.artifacts.models["m"]
    items = np.arange(train.n_items)
    for u in split.held_out[:20]:
        rows = model.user_feature_rows(list(catalog.user_tags[u]))
        got = np.zeros(len(items), dtype=np.float32)
        for p, (vector, bias) in zip(parts, model.user_vectors(parts, None, rows), strict=True):
            got += p.scale * (p.V @ vector + p.ib + bias)
        np.testing.assert_allclose(got, ranker.score(np.array([u]), items)[0], atol=1e-4)
