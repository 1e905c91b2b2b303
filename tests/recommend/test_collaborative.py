"""EASE, item-kNN and ALS as rankers, and their place in recommend_eval's JSON (issue 15)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from django.core.management import call_command

from recommend.data import TrainSet
from recommend.evaluation import RankerSpec, build_ranker
from recommend.rankers import ALSRanker, EASERanker, ItemKNNRanker
from recommend.synthetic import generate, write_csvs


def _train_set(matrix: np.ndarray) -> TrainSet:
    csr = sp.csr_matrix(matrix.astype(np.float32))
    n_users, n_items = matrix.shape
    return TrainSet(
        interactions=csr,
        known_users=matrix.sum(axis=1) > 0,
        known_items=matrix.sum(axis=0) > 0,
        user_tags=sp.csr_matrix((n_users, 0), dtype=np.float32),
        item_tags=sp.csr_matrix((n_items, 0), dtype=np.float32),
        user_vocab=(),
        item_vocab=(),
    )


def test_ease_matches_the_closed_form_and_the_two_item_answer() -> None:
    rng = np.random.default_rng(1)
    matrix = (rng.random((40, 12)) < 0.3).astype(np.float32)
    l2 = 5.0
    ranker = EASERanker(l2=l2).fit(_train_set(matrix))
    # Closed form solved independently: B[:, j] minimises ||X_j - X B_j||^2 + l2 ||B_j||^2 with B_jj = 0.
    expected = np.zeros((12, 12))
    for j in range(12):
        others = [c for c in range(12) if c != j]
        x = matrix[:, others].astype(np.float64)
        expected[others, j] = np.linalg.solve(x.T @ x + l2 * np.eye(11), x.T @ matrix[:, j])
    np.testing.assert_allclose(ranker.weights, expected, atol=1e-5)
    scores = ranker.score(np.arange(40), np.arange(12))
    np.testing.assert_allclose(scores, matrix @ expected, atol=1e-4)

    # Two items always taken together by 3 fans: B_01 = 3 / (3 + l2).
    pair = np.array([[1, 1], [1, 1], [1, 1], [0, 0]], dtype=np.float32)
    two = EASERanker(l2=1.0).fit(_train_set(pair))
    assert two.weights[0, 1] == pytest.approx(0.75) and two.weights[0, 0] == 0.0


def test_item_knn_recommends_the_item_taken_with_the_fans_item() -> None:
    # Items 0 and 1 go together, items 2 and 3 go together.
    matrix = np.array(
        [[1, 1, 0, 0]] * 5 + [[0, 0, 1, 1]] * 5 + [[1, 0, 0, 0], [0, 0, 1, 0]], dtype=np.float32
    )
    ranker = ItemKNNRanker(neighbours=10).fit(_train_set(matrix))
    scores = ranker.score(np.array([10, 11]), np.arange(4))
    assert scores[0, 1] > max(scores[0, 2], scores[0, 3])
    assert scores[1, 3] > max(scores[1, 0], scores[1, 1])
    # Cosine of items 0 and 1: 5 shared fans / sqrt(6 * 5).
    assert scores[0, 1] == pytest.approx(5 / np.sqrt(30), rel=1e-4)


def test_als_separates_two_blocks_and_knows_nothing_of_unseen_fans() -> None:
    matrix = np.array(
        [[1, 1, 1, 0, 0, 0]] * 8 + [[0, 0, 0, 1, 1, 1]] * 8 + [[1, 1, 0, 0, 0, 0]], dtype=np.float32
    )
    matrix = np.vstack([matrix, np.zeros((1, 6), dtype=np.float32)])
    ranker = ALSRanker(factors=4, regularization=0.01, alpha=10.0, iterations=20).fit(_train_set(matrix))
    scores = ranker.score(np.array([16, 17]), np.arange(6))
    assert scores[0, 2] > scores[0, 3:].max()
    assert np.all(scores[1] == 0.0)


def test_build_ranker_rebuilds_collaborative_recipes_with_their_parameters() -> None:
    train = _train_set((np.random.default_rng(2).random((30, 10)) < 0.3).astype(np.float32))
    ease = build_ranker(RankerSpec("ease", params=(("l2", 7.0),)), train)
    assert isinstance(ease, EASERanker) and ease.l2 == 7.0
    knn = build_ranker(RankerSpec("item_knn", params=(("neighbours", 3.0),)), train)
    assert isinstance(knn, ItemKNNRanker) and (np.diff(knn.weights.indptr) <= 3).all()
    assert RankerSpec("ease", params=(("l2", 7.0),)).describe() == "ease [l2=7]"


def test_recommend_eval_json_has_the_collaborative_rankers_per_regime(tmp_path: Path) -> None:
    write_csvs(generate(users=300, items=50, tag_strength=0.8, seed=3), tmp_path)
    out = tmp_path / "out.json"
    call_command(
        "recommend_eval",
        interactions=str(tmp_path / "interactions.csv"),
        user_features=str(tmp_path / "user_features.csv"),
        item_features=str(tmp_path / "item_features.csv"),
        grid="tiny",
        json_path=str(out),
        stdout=StringIO(),
    )
    report = json.loads(out.read_text())
    for regime in ("warm_users", "cold_users", "cold_items"):
        block = report["regimes"][regime]
        for name in ("served", "popularity", "ease", "item_knn", "als"):
            assert set(block[name]) >= {"precision_at_k", "recall_at_k", "auc"}, (regime, name)
        versus = block["served_vs_best_baseline"]
        metric = "auc" if regime == "cold_items" else "precision_at_k"
        assert versus["metric"] == metric
        baselines = ["popularity", "ease", "item_knn", "als"]
        baselines.append("content" if regime == "cold_items" else "tag_popularity")
        best = max(baselines, key=lambda name: block[name][metric])
        assert versus["best_baseline"] == best
        assert versus["difference"] == pytest.approx(block["served"][metric] - block[best][metric], abs=1e-6)
    # Pure collaborative models cannot rank a product they never saw: every fan ties, AUC one half.
    assert report["regimes"]["cold_items"]["ease"]["auc"] == pytest.approx(0.5)
    # In the warm regime they are real rankers, well above chance.
    assert report["regimes"]["warm_users"]["ease"]["auc"] > 0.6


@pytest.mark.parametrize(
    "spec", [RankerSpec("ease", params=(("l2", 3.0),)), RankerSpec("item_knn"), RankerSpec("als")]
)
def test_collaborative_rankers_export_as_factor_tables_that_rank_the_same(spec: RankerSpec) -> None:
    from recommend.training import factor_scores, factorize

    train = _train_set((np.random.default_rng(4).random((30, 10)) < 0.3).astype(np.float32))
    ranker = build_ranker(spec, train)
    users, items = np.arange(30), np.arange(10)
    np.testing.assert_allclose(
        factor_scores(factorize(ranker, train), users, items), ranker.score(users, items), atol=1e-4
    )


@pytest.mark.parametrize("spec", [RankerSpec("ease", params=(("l2", 3.0),)), RankerSpec("item_knn")])
def test_item_item_serving_scores_each_fan_on_the_fly_from_a_sparse_history(tmp_path, spec) -> None:  # noqa: ANN001
    """The artifact keeps the fans x products history sparse (a dense table is 2 GB at 100k x 5k), and the
    serving path (the fan's CSR row against the shop's candidates) gives the ranker's exact scores."""
    from recommend.serving import ServingModel
    from recommend.training import Artifacts, artifacts_read, artifacts_write, factorize

    matrix = (np.random.default_rng(7).random((40, 12)) < 0.25).astype(np.float32)
    matrix[5] = 0  # a fan without history
    train = _train_set(matrix)
    ranker = build_ranker(spec, train)
    shops = np.array([1] * 8 + [2] * 4, dtype=np.int64)  # two shops: candidates are a subset of V's rows
    path = artifacts_write(
        Artifacts(
            version="v-item-item",
            user_pks=np.arange(40, dtype=np.int64) + 100,
            user_shops=np.ones(40, dtype=np.int64),
            known_users=np.asarray(train.known_users),
            item_pks=np.arange(12, dtype=np.int64) + 500,
            item_shops=shops,
            user_vocab=[],
            item_vocab=[],
            models={"m": factorize(ranker, train)},
            regimes={"warm_users": {"model": "m", "name": spec.name}},
        ),
        tmp_path,
    )
    with np.load(path / "arrays.npz") as stored:
        names = set(stored.files)
        assert "m__0__U__indptr" in names and "m__0__U" not in names
        assert stored["m__0__U__data"].size == int(matrix.sum())  # one value per interaction, not 40 x 12
    model = ServingModel(artifacts_read(path))
    parts, _ = model.regime("warm_users")
    assert parts[0].sparse_user
    for shop, items in ((1, np.arange(8)), (2, np.arange(8, 12))):
        catalogue = model.shop_catalogue(shop, (0, 0))
        blocks = model.catalogue_blocks(catalogue, "m")
        for u in range(40):
            got = np.zeros(len(catalogue.pks), dtype=np.float32)
            for p, (vector, bias), (V, ib) in zip(
                parts,
                model.user_vectors(parts, model.user_row(u + 100), np.array([], np.int64)),
                blocks,
                strict=True,
            ):
                got += p.scale * (V @ vector + ib + bias)
            want = ranker.score(np.array([u]), items)[0] if matrix[u].any() else np.zeros(len(items))
            np.testing.assert_allclose(got, want, atol=1e-5)
