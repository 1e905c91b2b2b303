"""Offline evaluation of the recommenders: splits, leakage, metrics, determinism and the command contract."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommend.data import (
    REGIMES,
    Catalog,
    Interactions,
    Split,
    build_train_set,
    load_catalog,
    split_interactions,
)
from recommend.evaluation import (
    BASELINES,
    METRICS,
    PooledScores,
    RankerSpec,
    Selection,
    confirm,
    evaluate_ranker,
    evaluate_regime,
    run_evaluation,
    selection_scores,
    selection_units,
    tune_and_select,
)
from recommend.evaluation.metrics import _row_auc, _row_top_k_hits
from recommend.rankers import (
    ContentRanker,
    LightFMConfig,
    LightFMRanker,
    PopularityRanker,
    TagPopularityRanker,
)
from recommend.synthetic import generate, write_csvs

TINY_HYBRID = LightFMConfig(features=True, no_components=16, epochs=15, user_identity=False)


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_csvs(generate(users=300, items=50, tag_strength=0.8, seed=3), out)
    return out


@pytest.fixture(scope="module")
def catalog(synthetic_dir: Path) -> Catalog:
    loaded, _ = load_catalog(
        synthetic_dir / "interactions.csv",
        synthetic_dir / "user_features.csv",
        synthetic_dir / "item_features.csv",
    )
    return loaded


def _catalog_for(tmp_path: Path, *, tag_strength: float, seed: int) -> Catalog:
    paths = write_csvs(generate(users=500, items=60, tag_strength=tag_strength, seed=seed), tmp_path)
    loaded, _ = load_catalog(paths["interactions"], paths["user_features"], paths["item_features"])
    return loaded


def _cold_user_precision(catalog: Catalog, config: LightFMConfig) -> tuple[float, float]:
    split = split_interactions(catalog.interactions, "cold_users", seed=0)
    train = build_train_set(catalog, split.train)
    model = evaluate_ranker(LightFMRanker(config).fit(train), split, 10)["precision_at_k"]
    popularity = evaluate_ranker(PopularityRanker().fit(train), split, 10)["precision_at_k"]
    assert model is not None and popularity is not None
    return model, popularity


# --- the hybrid learns from tags, and only when tags matter --------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_hybrid_beats_popularity_for_tags_only_fans_when_tags_decide(tmp_path: Path, seed: int) -> None:
    hybrid, popularity = _cold_user_precision(
        _catalog_for(tmp_path, tag_strength=1.0, seed=seed), TINY_HYBRID
    )
    assert hybrid >= 1.25 * popularity


def test_hybrid_does_not_beat_popularity_for_cold_fans_when_tags_are_irrelevant(tmp_path: Path) -> None:
    hybrid, popularity = _cold_user_precision(_catalog_for(tmp_path, tag_strength=0.0, seed=0), TINY_HYBRID)
    assert hybrid < 1.15 * popularity


def test_lightfm_without_features_cannot_rank_tags_only_fans(tmp_path: Path) -> None:
    # What a broken feature pipeline looks like: the same margin must then be missed.
    pure = LightFMConfig(features=False, no_components=16, epochs=15)
    model, popularity = _cold_user_precision(_catalog_for(tmp_path, tag_strength=1.0, seed=0), pure)
    assert model < 1.25 * popularity


# --- no leakage -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("regime", REGIMES)
def test_split_train_and_test_are_disjoint_and_cover_all_pairs(catalog: Catalog, regime: str) -> None:
    split = split_interactions(catalog.interactions, regime, seed=0)
    train_pairs, test_pairs = split.train.pairs(), split.test.pairs()
    assert len(test_pairs) > 0
    assert not train_pairs & test_pairs
    assert train_pairs | test_pairs == catalog.interactions.pairs()
    train_matrix = build_train_set(catalog, split.train).interactions
    users, items = split.test.users, split.test.items
    assert np.all(np.asarray(train_matrix[users, items]).ravel() == 0)


def test_cold_users_have_no_training_interactions(catalog: Catalog) -> None:
    split = split_interactions(catalog.interactions, "cold_users", seed=0)
    assert len(split.held_out) == round(0.2 * catalog.n_users)
    assert not np.isin(split.train.users, split.held_out).any()
    assert set(split.test.users.tolist()) == set(split.held_out.tolist())
    train = build_train_set(catalog, split.train)
    assert not train.known_users[split.held_out].any()


def test_cold_items_have_no_training_interactions(catalog: Catalog) -> None:
    split = split_interactions(catalog.interactions, "cold_items", seed=0)
    assert not np.isin(split.train.items, split.held_out).any()
    train = build_train_set(catalog, split.train)
    assert not train.known_items[split.held_out].any()
    # A ranker trained on the split cannot know how popular a held-out item is.
    popularity = PopularityRanker().fit(train)
    assert np.all(popularity.item_term[split.held_out] == 0)


def test_warm_users_keep_fans_with_little_history_train_only(catalog: Catalog) -> None:
    split = split_interactions(catalog.interactions, "warm_users", seed=0)
    counts = np.bincount(catalog.interactions.users, minlength=catalog.n_users)
    assert not np.isin(split.test.users, np.flatnonzero(counts < 5)).any()
    held = np.bincount(split.test.users, minlength=catalog.n_users)
    tested = counts >= 5
    assert np.all(held[tested] == np.maximum(1, np.round(0.2 * counts[tested])))


@pytest.mark.parametrize("regime", REGIMES)
def test_validation_split_is_drawn_from_training_pairs_only(catalog: Catalog, regime: str) -> None:
    split = split_interactions(catalog.interactions, regime, seed=0)
    validation = split_interactions(split.train, regime, seed=0, stream=1)
    assert validation.train.pairs() | validation.test.pairs() == split.train.pairs()
    assert not validation.test.pairs() & split.test.pairs()


@pytest.mark.parametrize("regime", REGIMES)
def test_validation_folds_hold_out_disjoint_parts_of_the_training_pairs(
    catalog: Catalog, regime: str
) -> None:
    split = split_interactions(catalog.interactions, regime, seed=0)
    tuning = split_interactions(split.train, regime, seed=0, stream=1)
    confirmation = split_interactions(split.train, regime, seed=0, stream=1, fold=1)
    assert len(confirmation.test) > 0
    assert not tuning.test.pairs() & confirmation.test.pairs()
    assert confirmation.train.pairs() | confirmation.test.pairs() == split.train.pairs()
    assert not set(tuning.held_out.tolist()) & set(confirmation.held_out.tolist())
    assert len(confirmation.held_out) == len(tuning.held_out)


def test_feature_seen_only_on_held_out_entities_never_reaches_training() -> None:
    # Canary: a tag only a held-out fan and a held-out product carry.
    interactions = Interactions(
        users=np.repeat(np.arange(10, dtype=np.int32), 4),
        items=np.tile(np.arange(4, dtype=np.int32), 10),
        weights=np.ones(40, dtype=np.float32),
        n_users=10,
        n_items=4,
    )
    base = Catalog(
        user_ids=[f"u{u}" for u in range(10)],
        item_ids=[f"i{i}" for i in range(4)],
        interactions=interactions,
        user_tags=[("skin_type:oily",)] * 10,
        item_tags=[("category:beauty",)] * 4,
    )
    cold_users = split_interactions(interactions, "cold_users", seed=0)
    user_tags = list(base.user_tags)
    for user in cold_users.held_out:
        user_tags[user] = ("skin_type:oily", "canary:test_only")
    train = build_train_set(Catalog(**{**base.__dict__, "user_tags": user_tags}), cold_users.train)
    assert "canary:test_only" not in train.user_vocab
    ranker = LightFMRanker(LightFMConfig(no_components=4, epochs=2)).fit(train)
    assert ranker.user_features.shape[1] == train.n_users + len(train.user_vocab)
    # The held-out fan has no identity feature, only the shared tag.
    assert ranker.user_features[cold_users.held_out].nnz == len(cold_users.held_out)

    cold_items = split_interactions(interactions, "cold_items", seed=0)
    item_tags = list(base.item_tags)
    for item in cold_items.held_out:
        item_tags[item] = ("category:beauty", "canary:test_only")
    train = build_train_set(Catalog(**{**base.__dict__, "item_tags": item_tags}), cold_items.train)
    assert "canary:test_only" not in train.item_vocab


# --- metrics --------------------------------------------------------------------------------------------


def test_auc_counts_ties_as_half_and_ignores_excluded_items() -> None:
    scores = np.array([[0.9, 0.5, 0.5, 0.1, 5.0]])
    positives = np.array([[True, False, True, False, False]])
    candidates = np.array([[True, True, True, True, False]])  # item 4 is a training item: not ranked
    # Pairs (pos, neg): (0,1)=1, (0,3)=1, (2,1)=0.5, (2,3)=1 -> 3.5 / 4.
    assert _row_auc(scores, positives, candidates)[0] == pytest.approx(0.875)


def test_top_k_hits_skip_excluded_items() -> None:
    scores = np.array([[5.0, 1.0, 0.5, 0.0]])
    positives = np.array([[True, True, False, False]])
    candidates = np.array([[False, True, True, True]])
    assert _row_top_k_hits(scores, positives, candidates, 1)[0] == 1
    assert _row_top_k_hits(scores, positives, candidates, 3)[0] == 1


def test_top_k_ties_are_not_broken_by_catalogue_order() -> None:
    # Catalogue order is first appearance in the file; all-tied scores must not favour early items.
    n = 200
    positives = np.zeros((1, n), dtype=bool)
    positives[0, :10] = True
    hits = _row_top_k_hits(np.zeros((1, n)), positives, np.ones((1, n), dtype=bool), 10)[0]
    assert hits < 10
    assert hits == _row_top_k_hits(np.zeros((1, n)), positives, np.ones((1, n), dtype=bool), 10)[0]


def test_content_ranker_prefers_products_like_those_a_fan_took(catalog: Catalog) -> None:
    split = split_interactions(catalog.interactions, "cold_items", seed=0)
    train = build_train_set(catalog, split.train)
    metrics = evaluate_ranker(ContentRanker().fit(train), split, 10)
    assert metrics["auc"] is not None and metrics["auc"] > 0.5


# --- fallbacks and bad input ----------------------------------------------------------------------------


def test_lightfm_with_no_training_interactions_falls_back_to_popularity(catalog: Catalog) -> None:
    empty = catalog.interactions.subset(np.zeros(len(catalog.interactions), dtype=bool))
    train = build_train_set(catalog, empty)
    ranker = LightFMRanker(TINY_HYBRID).fit(train)
    assert "popularity" in ranker.note
    scores = ranker.score(np.arange(3), np.arange(5))
    assert scores.shape == (3, 5) and np.all(scores == 0)
    assert TagPopularityRanker().fit(train).score(np.arange(3), np.arange(5)).shape == (3, 5)


@pytest.fixture
def valid_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "interactions": _write(
            tmp_path / "i.csv", ("user_id", "item_id"), [("u1", "a"), ("u1", "b"), ("u2", "a")]
        ),
        "user_features": _write(tmp_path / "u.csv", ("user_id", "feature"), [("u1", "skin_type:oily")]),
        "item_features": _write(tmp_path / "f.csv", ("item_id", "feature"), [("a", "category:beauty")]),
    }


def _eval(files: dict[str, Path], *extra: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "recommend_eval",
        "--interactions",
        str(files["interactions"]),
        "--user-features",
        str(files["user_features"]),
        "--item-features",
        str(files["item_features"]),
        *extra,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def test_eval_rejects_interactions_without_item_id_column(
    tmp_path: Path, valid_files: dict[str, Path]
) -> None:
    valid_files["interactions"] = _write(tmp_path / "bad.csv", ("user_id", "product"), [("u1", "a")])
    with pytest.raises(CommandError, match="missing column.*item_id"):
        _eval(valid_files)


def test_eval_rejects_feature_file_without_feature_column(
    tmp_path: Path, valid_files: dict[str, Path]
) -> None:
    valid_files["user_features"] = _write(tmp_path / "bad.csv", ("user_id", "tag"), [("u1", "x")])
    with pytest.raises(CommandError, match="user features file.*missing column.*feature"):
        _eval(valid_files)


def test_eval_rejects_interactions_with_no_rows(tmp_path: Path, valid_files: dict[str, Path]) -> None:
    valid_files["interactions"] = _write(tmp_path / "empty.csv", ("user_id", "item_id"), [])
    with pytest.raises(CommandError, match="no usable rows"):
        _eval(valid_files)


def test_eval_rejects_missing_file(tmp_path: Path, valid_files: dict[str, Path]) -> None:
    valid_files["item_features"] = tmp_path / "nope.csv"
    with pytest.raises(CommandError, match="cannot open"):
        _eval(valid_files)


def test_eval_rejects_non_numeric_weight(tmp_path: Path, valid_files: dict[str, Path]) -> None:
    valid_files["interactions"] = _write(
        tmp_path / "w.csv", ("user_id", "item_id", "weight"), [("u1", "a", "lots")]
    )
    with pytest.raises(CommandError, match="not a number"):
        _eval(valid_files)


def test_feature_rows_for_unknown_ids_are_counted_and_ignored(tmp_path: Path, synthetic_dir: Path) -> None:
    user_rows = list(csv.reader(open(synthetic_dir / "user_features.csv", encoding="utf-8")))[1:]
    files = {
        "interactions": synthetic_dir / "interactions.csv",
        "user_features": _write(
            tmp_path / "u.csv", ("user_id", "feature"), [*user_rows, ("ghost1", "a:b"), ("ghost2", "a:b")]
        ),
        "item_features": synthetic_dir / "item_features.csv",
    }
    out, err = _eval(files, "--grid", "tiny", "--json", str(tmp_path / "out.json"))
    assert "ignored 2 user feature row(s)" in err
    assert json.loads((tmp_path / "out.json").read_text())["regimes"]["cold_users"]["served"]["served_name"]


# --- determinism and the JSON contract ------------------------------------------------------------------


def test_same_seed_gives_same_split_and_metrics(catalog: Catalog) -> None:
    first = run_evaluation(catalog, k=5, seed=7, grid="tiny", regimes=("cold_items",)).to_json()
    second = run_evaluation(catalog, k=5, seed=7, grid="tiny", regimes=("cold_items",)).to_json()
    first.pop("fit_seconds"), second.pop("fit_seconds")
    assert first == second
    a = split_interactions(catalog.interactions, "cold_users", seed=7)
    b = split_interactions(catalog.interactions, "cold_users", seed=8)
    assert not np.array_equal(a.held_out, b.held_out)


def test_eval_json_has_exactly_the_contract_shape(tmp_path: Path, synthetic_dir: Path) -> None:
    files = {
        "interactions": synthetic_dir / "interactions.csv",
        "user_features": synthetic_dir / "user_features.csv",
        "item_features": synthetic_dir / "item_features.csv",
    }
    out_path = tmp_path / "out.json"
    out, _ = _eval(files, "--k", "5", "--seed", "0", "--grid", "tiny", "--json", str(out_path))
    report = json.loads(out_path.read_text())
    assert set(report) == {"k", "fit_seconds", "regimes"}
    assert report["k"] == 5 and isinstance(report["fit_seconds"], float)
    collaborative = {"ease", "item_knn", "als", "served_vs_best_baseline"}
    expected = {
        "warm_users": {
            "popularity",
            "tag_popularity",
            "lightfm_hybrid",
            "lightfm_pure",
            "served",
            *collaborative,
        },
        "cold_users": {
            "popularity",
            "tag_popularity",
            "lightfm_hybrid",
            "lightfm_pure",
            "served",
            *collaborative,
        },
        "cold_items": {"popularity", "content", "lightfm_hybrid", "lightfm_pure", "served", *collaborative},
    }
    assert {regime: set(rankers) for regime, rankers in report["regimes"].items()} == expected
    for rankers in report["regimes"].values():
        versus = rankers.pop("served_vs_best_baseline")
        assert set(versus) == {
            "metric",
            "served",
            "best_baseline",
            "best_baseline_value",
            "ratio",
            "difference",
        }
        for name, metrics in rankers.items():
            keys = {*METRICS, "served_name"} if name == "served" else set(METRICS)
            assert set(metrics) == keys
            assert all(0.0 <= metrics[m] <= 1.0 for m in METRICS)
        assert rankers["served"]["served_name"] in rankers or "+" in rankers["served"]["served_name"]
    assert "served = " in out and "cold_items" in out


def test_synth_command_writes_three_csvs_that_eval_can_read(tmp_path: Path) -> None:
    call_command(
        "recommend_synth", "--users", "30", "--items", "10", "--out", str(tmp_path), stdout=StringIO()
    )
    catalog, report = load_catalog(
        tmp_path / "interactions.csv", tmp_path / "user_features.csv", tmp_path / "item_features.csv"
    )
    assert catalog.n_users == 30 and report.unknown_item_feature_rows == 0
    assert any(tag.startswith("skin_type:") for tags in catalog.item_tags for tag in tags)


def test_regime_with_no_training_interactions_reports_popularity_only(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def everything_held_out(interactions: Interactions, regime: str, **_: object) -> Split:
        nothing = np.zeros(len(interactions), dtype=bool)
        return Split(
            regime=regime,
            train=interactions.subset(nothing),
            test=interactions.subset(~nothing),
            held_out=interactions.user_set(),
            universe_users=interactions.user_set(),
            universe_items=interactions.item_set(),
        )

    monkeypatch.setattr("recommend.evaluation.regimes.split_interactions", everything_held_out)
    result = evaluate_regime(catalog, "cold_users", k=10, seed=0)
    assert set(result.metrics) == {"popularity", "served"}
    assert result.metrics["served"]["served_name"] == "popularity"
    assert any("no training interactions" in note for note in result.notes)


def _select_tiny(catalog: Catalog, train: Interactions, regime: str) -> Selection:
    """tune_and_select on the tiny grid, one thread, seed 0, quietly."""
    return tune_and_select(
        catalog,
        train,
        regime,
        k=10,
        seed=0,
        num_threads=1,
        max_fit_seconds=None,
        grid="tiny",
        log=lambda _: None,
    )


def test_served_is_never_worse_on_validation_than_the_best_baseline(catalog: Catalog) -> None:
    for regime in REGIMES:
        split = split_interactions(catalog.interactions, regime, seed=0)
        selection = _select_tiny(catalog, split.train, regime)
        scores = selection.scores
        baselines = [selection.specs[name].describe() for name in BASELINES[regime]]
        assert scores[selection.served.describe()] >= max(scores[name] for name in baselines)


# --- the selection rule: a learned recipe must beat the best baseline by more than noise -------------------


def test_confirmation_rejects_a_gain_within_noise() -> None:
    rng = np.random.default_rng(0)
    baseline = rng.random(400)
    challenger = baseline + 0.002 + rng.normal(0.0, 0.05, size=400)
    result = confirm(challenger, baseline, names=("lightfm_hybrid", "popularity"), seed=0)
    assert result.delta > 0 and result.lower < 0
    assert not result.accepted


def test_confirmation_accepts_a_clear_gain_and_ignores_undefined_entities() -> None:
    rng = np.random.default_rng(0)
    baseline = rng.random(400)
    challenger = baseline + 0.05 + rng.normal(0.0, 0.05, size=400)
    challenger[:50] = np.nan  # e.g. a new item no validation fan took: no AUC
    result = confirm(challenger, baseline, names=("lightfm_hybrid", "popularity"), seed=0)
    assert result.n == 350 and result.accepted


def test_confirmation_rejects_an_equal_or_unmeasurable_challenger() -> None:
    same = np.linspace(0.0, 1.0, 100)
    assert not confirm(same, same.copy(), names=("a", "b"), seed=0).accepted
    assert not confirm(np.array([1.0]), np.array([0.0]), names=("a", "b"), seed=0).accepted


def test_pooled_scores_average_a_unit_over_folds_and_pair_only_common_units() -> None:
    pooled = PooledScores()
    pooled.add("a", np.array([1, 2]), np.array([0.2, np.nan]))  # NaN: undefined for unit 2, not a zero
    pooled.add("a@confirm", np.array([1, 3]), np.array([0.4, 1.0]))
    pooled.add("b", np.array([1, 3]), np.array([0.1, 0.5]))
    assert pooled.units("a", "b") == [1]
    assert pooled.values([1, 3], "a", "a@confirm").tolist() == pytest.approx([0.3, 1.0])
    assert pooled.mean("a", "a@confirm") == pytest.approx(0.65)
    assert pooled.mean("missing") == -1.0


def test_small_data_pools_validation_folds_for_the_confirmation(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 50 items: one confirmation fold holds out 8 of them, far too few to tell a real gain from noise.
    split = split_interactions(catalog.interactions, "cold_items", seed=0)
    one_fold = split_interactions(split.train, "cold_items", seed=0, stream=1, fold=1)
    selection = _select_tiny(catalog, split.train, "cold_items")
    assert selection.confirmation is not None
    assert selection.confirmation.folds == 4  # every fold but the tuning one (1 / HOLDOUT_FRACTION = 5)
    assert selection.confirmation.n > len(one_fold.held_out)
    assert "4 further validation splits" in selection.note

    monkeypatch.setattr("recommend.evaluation.selection.CONFIRM_MIN_UNITS", 1)
    single = _select_tiny(catalog, split.train, "cold_items")
    assert single.confirmation is not None and single.confirmation.folds == 1
    assert single.confirmation.n <= len(one_fold.held_out)
    assert "a second validation split" in single.note


def test_the_incumbent_is_the_best_baseline_over_every_pooled_fold(catalog: Catalog) -> None:
    regime = "cold_users"
    split = split_interactions(catalog.interactions, regime, seed=0)
    selection = _select_tiny(catalog, split.train, regime)
    pooled = PooledScores()
    for fold in range(5):
        fold_split = split_interactions(split.train, regime, seed=0, stream=1, fold=fold)
        fold_train = build_train_set(catalog, fold_split.train)
        for kind, ranker in (("popularity", PopularityRanker()), ("tag_popularity", TagPopularityRanker())):
            values = selection_scores(ranker.fit(fold_train), fold_split, 10)
            pooled.add(f"{kind}{fold}", selection_units(fold_split), values)
    means = {kind: pooled.mean(*(f"{kind}{fold}" for fold in range(5))) for kind in BASELINES[regime]}
    assert selection.incumbent == max(BASELINES[regime], key=means.__getitem__)
    if selection.served.kind not in ("lightfm", "blend"):
        assert selection.served == RankerSpec(selection.incumbent)


@pytest.mark.parametrize("lower, served_learned", [(-1e-4, False), (1e-4, True)])
def test_baseline_is_served_unless_the_challenger_is_confirmed(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, lower: float, served_learned: bool
) -> None:
    # Whatever validation says, only a confirmed gain on the second split replaces the baseline.
    monkeypatch.setattr(
        "recommend.evaluation.confirmation.paired_bootstrap_lower", lambda *args, **kwargs: lower
    )
    split = split_interactions(catalog.interactions, "cold_items", seed=0)
    selection = _select_tiny(catalog, split.train, "cold_items")
    assert selection.confirmation is not None, "the fixture's hybrid should beat the baselines on tuning"
    assert selection.confirmation.accepted is served_learned
    if served_learned:
        assert selection.served.kind in ("lightfm", "blend")
    else:
        assert selection.served == RankerSpec(selection.confirmation.baseline)
        assert selection.served.kind in BASELINES["cold_items"]


def test_tags_only_fans_get_a_simple_baseline_when_tags_are_irrelevant(tmp_path: Path) -> None:
    catalog = _catalog_for(tmp_path, tag_strength=0.0, seed=0)
    split = split_interactions(catalog.interactions, "cold_users", seed=0)
    selection = _select_tiny(catalog, split.train, "cold_users")
    assert selection.served.kind in BASELINES["cold_users"], selection.note


def test_lightfm_stops_adding_epochs_at_the_time_budget(catalog: Catalog) -> None:
    train = build_train_set(catalog, catalog.interactions)
    ranker = LightFMRanker(replace(TINY_HYBRID, epochs=50), max_fit_seconds=1e-6).fit(train)
    assert ranker.config.epochs == 1
    assert "stopped after 1 epochs" in ranker.note
