"""Validation: tune LightFM on one fold of train; serve a learned recipe only if further folds confirm it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from recommend.data import (
    HOLDOUT_FRACTION,
    Catalog,
    Interactions,
    Split,
    TrainSet,
    build_train_set,
    split_interactions,
)
from recommend.evaluation.confirmation import Confirmation, PooledScores, confirm
from recommend.evaluation.metrics import selection_scores, selection_units
from recommend.evaluation.specs import (
    COLLABORATIVE,
    RankerSpec,
    build_ranker,
    collaborative_grid,
    lightfm_grid,
)
from recommend.rankers import BlendRanker, LightFMConfig, LightFMRanker, Ranker

# Which baselines compete in which regime's selection (LightFM rankers apply everywhere). EASE, item-kNN
# and ALS learn from history only, so they compete for fans with history; in the cold regimes they are
# reported (REPORTED) but cannot rank a fan or product they never saw.
BASELINES: dict[str, tuple[str, ...]] = {
    "warm_users": ("popularity", "tag_popularity", *COLLABORATIVE),
    "cold_users": ("popularity", "tag_popularity"),
    "cold_items": ("popularity", "content"),
    # Held-out fans with text are new fans: known by tags (and, for the text-aware candidates, text).
    "chat_users": ("popularity", "tag_popularity"),
}
REPORTED: dict[str, tuple[str, ...]] = {
    regime: (*kinds, *(kind for kind in COLLABORATIVE if kind not in kinds))
    for regime, kinds in BASELINES.items()
}
# The validation metric that chooses what is served: fans-for-a-new-item ranking is what matters for cold
# items; top-k item lists are what matters for fans.
SELECTION_METRIC: dict[str, str] = {
    "warm_users": "precision_at_k",
    "cold_users": "precision_at_k",
    "cold_items": "auc",
    "chat_users": "precision_at_k",
}
BLEND_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# On small data one validation split has few units (fans, or new items): a real gain of 0.02 precision can
# sit inside the noise of 150 fans. Further disjoint folds of the same validation stream are pooled until
# this many units are measured (or the folds run out: 1 / HOLDOUT_FRACTION in all).
CONFIRM_MIN_UNITS = 600


@dataclass
class Selection:
    """What validation chose for one regime."""

    served: RankerSpec
    specs: dict[str, RankerSpec]  # best spec per reported ranker name
    scores: dict[str, float | None]  # tuning-split score per candidate description
    confirmation: Confirmation | None = None
    note: str = ""
    incumbent: str = "popularity"  # the best baseline over the validation folds


def _selection_value(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else -1.0


def tune_and_select(
    catalog: Catalog,
    train: Interactions,
    regime: str,
    *,
    k: int,
    seed: int,
    num_threads: int,
    max_fit_seconds: float | None,
    grid: str,
    log: Callable[[str], None],
) -> Selection:
    """Choose LightFM configs and the served ranker on validation splits of `train` (never the test split).

    Validation splits with the regime's structure and disjoint held-out parts (folds of one stream): on the
    tuning split (fold 0) the LightFM grid and blends are chosen; the best learned recipe (the challenger)
    is then refitted on the confirmation fold(s) and served only if it beats the best baseline there by more
    than noise (`confirm`). Picking the best of many candidates on one split overstates it; folds used once
    do not. On small data, folds are pooled until CONFIRM_MIN_UNITS units are measured, and the best
    baseline (the incumbent) is chosen over all of them.
    """
    eligible = catalog.text_users() if regime == "chat_users" else None
    val_split = split_interactions(train, regime, seed=seed, stream=1, eligible=eligible)
    val_train = build_train_set(catalog, val_split.train)
    scores: dict[str, float | None] = {}
    best: dict[str, tuple[float, RankerSpec, Ranker | None]] = {}

    def consider_values(spec: RankerSpec, ranker: Ranker, values: np.ndarray) -> None:
        value = _selection_value(values)
        scores[spec.describe()] = value
        # Strictly better only: on a tie the earlier (simpler) candidate stays.
        if spec.name not in best or value > best[spec.name][0]:
            best[spec.name] = (value, spec, ranker)

    def consider(spec: RankerSpec, ranker: Ranker) -> None:
        consider_values(spec, ranker, selection_scores(ranker, val_split, k))

    baselines = BASELINES[regime]
    # Baselines are cheap: on small data they are compared on every validation fold that will be pooled
    # for the confirmation, so the incumbent (popularity vs tag popularity, say) is not chosen on noise.
    # A collaborative baseline's hyper-parameters (EASE's l2, ...) are chosen on the tuning fold first.
    pooled = PooledScores()
    fold0_units = selection_units(val_split)
    simple: dict[str, Ranker] = {}
    baseline_specs: dict[str, RankerSpec] = {}
    for kind in baselines:
        grid_specs = collaborative_grid(kind, size=grid) if kind in COLLABORATIVE else [RankerSpec(kind)]
        for spec in grid_specs:
            ranker = build_ranker(spec, val_train, seed=seed, num_threads=num_threads)
            consider_values(spec, ranker, selection_scores(ranker, val_split, k))
        _, baseline_specs[kind], chosen = best[kind]
        assert chosen is not None
        simple[kind] = chosen
        pooled.add(kind, fold0_units, selection_scores(chosen, val_split, k))
        if kind in COLLABORATIVE:
            log(
                f"  {regime}: best {kind} on validation: {baseline_specs[kind].describe()} = {best[kind][0]:.4f}"
            )
    n_units = len(pooled.units(*baselines))
    extra_folds = min(int(round(1 / HOLDOUT_FRACTION)) - 1, max(1, -(-CONFIRM_MIN_UNITS // max(n_units, 1))))
    confirm_splits: list[tuple[Split, TrainSet]] = []
    for fold in range(1, extra_folds + 1):
        fold_split = split_interactions(train, regime, seed=seed, stream=1, fold=fold, eligible=eligible)
        fold_train = build_train_set(catalog, fold_split.train)
        if len(fold_split.test) == 0 or fold_train.nnz == 0:
            continue
        confirm_splits.append((fold_split, fold_train))
        for kind in baselines:
            pooled.add(
                f"{kind}@confirm",
                selection_units(fold_split),
                selection_scores(
                    build_ranker(baseline_specs[kind], fold_train, seed=seed, num_threads=num_threads),
                    fold_split,
                    k,
                ),
            )
    # All folds together, the tuning fold and the confirmation folds; the first maximum: ties keep the simpler.
    incumbent = max(baselines, key=lambda kind: pooled.mean(kind, f"{kind}@confirm"))
    if len(val_split.test) == 0 or val_train.nnz == 0:
        log(f"  {regime}: validation split too small to tune; serving popularity")
        fallback = RankerSpec("popularity")
        specs = {"popularity": fallback, **baseline_specs}
        specs["lightfm_hybrid"] = RankerSpec("lightfm", LightFMConfig(features=True))
        specs["lightfm_pure"] = RankerSpec("lightfm", LightFMConfig(features=False))
        return Selection(
            fallback, specs, scores, note="validation split too small to tune", incumbent=incumbent
        )

    for features in (True, False):
        configs, checkpoints = lightfm_grid(regime, features=features, size=grid)
        for config in configs:
            ranker = LightFMRanker(
                config, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
            )
            for fitted in ranker.fit_checkpoints(val_train, checkpoints):
                # A snapshot: the ranker keeps training, and a blend must use this checkpoint.
                consider(RankerSpec("lightfm", fitted.config), copy.copy(fitted))
        name = "lightfm_hybrid" if features else "lightfm_pure"
        if features and val_train.has_weights and grid != "tiny":
            config = replace(best[name][1].config, use_weights=True)  # type: ignore[arg-type]
            weighted = LightFMRanker(
                config, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
            ).fit(val_train)
            consider(RankerSpec("lightfm", config), weighted)
        log(f"  {regime}: best {name} on validation: {best[name][1].describe()} = {best[name][0]:.4f}")

    # A learned model blended with a simple baseline (each that applies), if validation says it helps.
    for name in ("lightfm_hybrid", "lightfm_pure"):
        _, spec, model = best[name]
        assert model is not None
        for partner in baselines:
            for weight in BLEND_WEIGHTS:
                blend = BlendRanker(model, simple[partner], weight, seed=seed).fit(val_train)
                blend_spec = RankerSpec(
                    "blend",
                    spec.config,
                    blend_with=partner,
                    weight=weight,
                    params=baseline_specs[partner].params,
                )
                consider(blend_spec, blend)

    specs = {name: spec for name, (_, spec, _) in best.items() if "+" not in name}
    baseline_value, baseline_spec, _ = best[incumbent]
    learned = [entry for name, entry in best.items() if name not in baselines]
    challenger_value, challenger, _ = max(learned, key=lambda entry: entry[0])
    metric = SELECTION_METRIC[regime]
    if challenger_value <= baseline_value:
        log(f"  {regime}: serving {incumbent}: no learned recipe beat it on validation")
        return Selection(
            baseline_spec,
            specs,
            scores,
            note=f"no learned recipe beat {incumbent} on validation",
            incumbent=incumbent,
        )

    if not confirm_splits:
        note = f"too little data to confirm {challenger.name} on a second split; serving {incumbent}"
        log(f"  {regime}: {note}")
        return Selection(baseline_spec, specs, scores, note=note, incumbent=incumbent)
    for fold_split, fold_train in confirm_splits:
        challenger_ranker = build_ranker(
            challenger, fold_train, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
        )
        pooled.add(
            "challenger", selection_units(fold_split), selection_scores(challenger_ranker, fold_split, k)
        )
    units = pooled.units("challenger", f"{incumbent}@confirm")
    confirmation = confirm(
        pooled.values(units, "challenger"),
        pooled.values(units, f"{incumbent}@confirm"),
        names=(challenger.name, incumbent),
        seed=seed,
        folds=len(confirm_splits),
    )
    served = challenger if confirmation.accepted else baseline_spec
    note = confirmation.describe(metric)
    log(f"  {regime}: {note}")
    log(f"  {regime}: serving {served.describe()}")
    return Selection(served, specs, scores, confirmation=confirmation, note=note, incumbent=incumbent)
