"""Honest offline evaluation of the rankers in three regimes (see docs/recommend-eval.md).

For each regime: split the catalogue into train/test; split train again (same regime structure) into two
validation splits with disjoint held-out parts; tune LightFM on the first, and serve the best learned recipe
only if it beats the best baseline on the second by more than noise; refit everything on the full train
split; report test metrics. The test split is touched once, at the very end.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from recommend.data import (
    HOLDOUT_FRACTION,
    REGIMES,
    Catalog,
    Interactions,
    Split,
    TrainSet,
    build_train_set,
    split_interactions,
)
from recommend.rankers import (
    BlendRanker,
    ContentRanker,
    LightFMConfig,
    LightFMRanker,
    PopularityRanker,
    Ranker,
    TagPopularityRanker,
)

METRICS: tuple[str, ...] = ("precision_at_k", "recall_at_k", "auc")
# Which simple rankers apply to which regime (LightFM rankers apply everywhere).
BASELINES: dict[str, tuple[str, ...]] = {
    "warm_users": ("popularity", "tag_popularity"),
    "cold_users": ("popularity", "tag_popularity"),
    "cold_items": ("popularity", "content"),
}
# The validation metric that chooses what is served: fans-for-a-new-item ranking is what matters for cold
# items; top-k item lists are what matters for fans.
SELECTION_METRIC: dict[str, str] = {
    "warm_users": "precision_at_k",
    "cold_users": "precision_at_k",
    "cold_items": "auc",
}
BLEND_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
BATCH = 512
# A learned recipe replaces the best simple baseline only when it beats it on a second validation split
# (disjoint held-out part, never used for tuning) with this one-sided paired-bootstrap confidence.
CONFIRM_LEVEL = 0.95
BOOTSTRAP_SAMPLES = 2000
# On small data one validation split has few units (fans, or new items): a real gain of 0.02 precision can
# sit inside the noise of 150 fans. Further disjoint folds of the same validation stream are pooled until
# this many units are measured (or the folds run out: 1 / HOLDOUT_FRACTION in all).
CONFIRM_MIN_UNITS = 600


# --- metrics --------------------------------------------------------------------------------------------


def _row_auc(scores: np.ndarray, positives: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """ROC AUC of each row; ties count one half; non-candidates are ignored. NaN for rows without both classes."""
    masked = np.where(candidates, np.nan_to_num(scores, nan=0.0, posinf=3e38, neginf=-3e38), -np.inf)
    ranks = rankdata(masked, axis=1, method="average")
    n_excluded = (~candidates).sum(axis=1)
    n_pos = (positives & candidates).sum(axis=1)
    n_neg = candidates.sum(axis=1) - n_pos
    # Every non-candidate sits below every candidate, so a candidate's rank among candidates is a shift.
    pos_rank_sum = np.where(positives & candidates, ranks - n_excluded[:, None], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos_rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _row_top_k_hits(scores: np.ndarray, positives: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    masked = np.where(candidates, np.nan_to_num(scores, nan=0.0), -np.inf)
    # Ties are broken by a fixed random order of the columns, not catalogue order: catalogue order is
    # first appearance in the interactions file, which would leak (test) popularity into tied scores.
    tie_break = np.broadcast_to(np.random.default_rng(0).permutation(masked.shape[1]), masked.shape)
    top = np.lexsort((tie_break, -masked), axis=1)[:, :k]
    taken = np.take_along_axis(candidates, top, axis=1)
    return (np.take_along_axis(positives, top, axis=1) & taken).sum(axis=1)


def rank_items_for_users(
    ranker: Ranker,
    users: np.ndarray,
    items: np.ndarray,
    test: sp.csr_matrix,
    k: int,
    exclude: sp.csr_matrix | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-user precision@k, recall@k and AUC of ranking `items`; `exclude` pairs are not candidates."""
    precision, recall, auc = [], [], []
    for start in range(0, len(users), BATCH):
        batch = users[start : start + BATCH]
        scores = ranker.score(batch, items)
        positives = test[batch][:, items].toarray() > 0
        candidates = np.ones_like(positives)
        if exclude is not None:
            candidates &= ~(exclude[batch][:, items].toarray() > 0)
        n_pos = positives.sum(axis=1)
        hits = _row_top_k_hits(scores, positives, candidates, k)
        precision.append(hits / k)
        recall.append(np.divide(hits, n_pos, out=np.zeros(len(batch)), where=n_pos > 0))
        auc.append(_row_auc(scores, positives, candidates))
    return np.concatenate(precision), np.concatenate(recall), np.concatenate(auc)


def rank_users_for_items(
    ranker: Ranker, users: np.ndarray, items: np.ndarray, test: sp.csr_matrix
) -> np.ndarray:
    """Per-item AUC of ranking `users` for each item: positives are the item's test fans."""
    test_csc = test.tocsc()
    aucs = []
    chunk = max(1, min(256, 2_000_000 // max(len(users), 1)))
    for start in range(0, len(items), chunk):
        batch = items[start : start + chunk]
        scores = ranker.score(users, batch).T
        positives = test_csc[:, batch][users].T.toarray() > 0
        aucs.append(_row_auc(scores, positives, np.ones_like(positives)))
    return np.concatenate(aucs) if aucs else np.array([])


def _mean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return round(float(values.mean()), 6) if values.size else None


def _rank_test_users(ranker: Ranker, split: Split, k: int, test: Any, users: Any) -> tuple[np.ndarray, ...]:
    """Per test fan: (precision@k, recall@k, AUC) over the regime's candidate products (the held-out ones
    for cold items), never counting what a warm fan already had in train."""
    items = split.held_out if split.regime == "cold_items" else split.universe_items
    exclude = split.train.to_csr(binary=True) if split.regime == "warm_users" else None
    return rank_items_for_users(ranker, users, items, test, k, exclude=exclude)


def evaluate_ranker(ranker: Ranker, split: Split, k: int) -> dict[str, float | None]:
    """Test metrics of a ranker fitted on `split.train`, exactly as documented in docs/recommend-eval.md."""
    test = split.test.to_csr(binary=True)
    test_users = split.test.user_set()
    if len(test_users) == 0:
        return dict.fromkeys(METRICS)
    p, r, a = _rank_test_users(ranker, split, k, test, test_users)
    if split.regime == "cold_items":
        a = rank_users_for_items(ranker, split.universe_users, split.held_out, test)  # AUC per new product
    return {"precision_at_k": _mean(p), "recall_at_k": _mean(r), "auc": _mean(a)}


def selection_units(split: Split) -> np.ndarray:
    """The ids `selection_scores` reports on, in its order: test fans, or the held-out items."""
    if len(split.test) == 0:
        return np.array([], dtype=np.int32)
    if split.regime == "cold_items":
        return split.held_out
    return split.test.user_set()


def selection_scores(ranker: Ranker, split: Split, k: int) -> np.ndarray:
    """The regime's selection metric per `selection_units(split)`: per fan (precision@k) or per new item (AUC).

    NaN for an entity the metric is undefined for; the mean over the rest is what `evaluate_ranker` reports.
    """
    units = selection_units(split)
    if len(units) == 0:
        return np.array([])
    test = split.test.to_csr(binary=True)
    if split.regime == "cold_items":
        return rank_users_for_items(ranker, split.universe_users, units, test)
    return _rank_test_users(ranker, split, k, test, units)[0]


class PooledScores:
    """Per-unit selection scores over validation folds, by name (a ranker on some folds), averaged per unit.

    Held-out fans or items of different folds are disjoint (cold regimes), so pooling adds units; a warm
    fan appears in several folds with different held-out pairs and counts once, with the mean.
    """

    def __init__(self) -> None:
        self.sums: dict[str, dict[int, float]] = {}
        self.counts: dict[str, dict[int, int]] = {}

    def add(self, name: str, units: np.ndarray, values: np.ndarray) -> None:
        sums = self.sums.setdefault(name, {})
        counts = self.counts.setdefault(name, {})
        for unit, value in zip(units.tolist(), values.tolist(), strict=True):
            if value == value:  # not NaN: the metric is defined for this unit
                sums[unit] = sums.get(unit, 0.0) + value
                counts[unit] = counts.get(unit, 0) + 1

    def units(self, *names: str) -> list[int]:
        """Units measured under every name (names may be folds of one ranker or rankers to pair)."""
        sets = [set(self.sums.get(name, {})) for name in names]
        return sorted(set.intersection(*sets)) if sets else []

    def values(self, units: list[int], *names: str) -> np.ndarray:
        """Per unit, the mean over every (name, fold) that measured it."""
        out = np.empty(len(units), dtype=np.float64)
        for index, unit in enumerate(units):
            total = sum(self.sums.get(name, {}).get(unit, 0.0) for name in names)
            count = sum(self.counts.get(name, {}).get(unit, 0) for name in names)
            out[index] = total / count
        return out

    def mean(self, *names: str) -> float:
        """Mean over every unit measured under any of `names` (-1 if none)."""
        units = sorted(set().union(*(set(self.sums.get(name, {})) for name in names)))
        return float(self.values(units, *names).mean()) if units else -1.0


def paired_bootstrap_lower(delta: np.ndarray, *, level: float, samples: int, seed: int) -> float:
    """One-sided lower confidence bound of mean(delta), resampling entities (pairs stay together)."""
    delta = delta[~np.isnan(delta)]
    if delta.size < 2:
        return -np.inf
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // delta.size)
    means = [
        delta[rng.integers(0, delta.size, size=(min(chunk, samples - start), delta.size))].mean(axis=1)
        for start in range(0, samples, chunk)
    ]
    return float(np.quantile(np.concatenate(means), 1.0 - level))


@dataclass(frozen=True)
class Confirmation:
    """The challenger (best learned recipe on the tuning split) against the best baseline, on fresh data."""

    challenger: str
    baseline: str
    n: int  # entities on the confirmation split(s) with the metric defined
    delta: float  # mean per-entity difference, challenger - baseline
    lower: float  # its one-sided lower confidence bound
    level: float
    folds: int = 1  # validation folds pooled for the confirmation

    @property
    def accepted(self) -> bool:
        return self.lower > 0

    def describe(self, metric: str) -> str:
        verdict = "serving it" if self.accepted else f"keeping {self.baseline}"
        where = "a second validation split" if self.folds == 1 else f"{self.folds} further validation splits"
        return (
            f"{self.challenger} vs {self.baseline} on {where}: {metric} "
            f"{self.delta:+.4f} over {self.n}, {self.level:.0%} lower bound {self.lower:+.4f}: {verdict}"
        )


def confirm(
    challenger: np.ndarray, baseline: np.ndarray, *, names: tuple[str, str], seed: int, folds: int = 1
) -> Confirmation:
    """The selection rule: a challenger replaces the baseline only if it is better by more than noise."""
    both = ~(np.isnan(challenger) | np.isnan(baseline))
    delta = challenger[both] - baseline[both]
    return Confirmation(
        challenger=names[0],
        baseline=names[1],
        n=int(delta.size),
        delta=float(delta.mean()) if delta.size else 0.0,
        lower=paired_bootstrap_lower(delta, level=CONFIRM_LEVEL, samples=BOOTSTRAP_SAMPLES, seed=seed),
        level=CONFIRM_LEVEL,
        folds=folds,
    )


# --- what can be served ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankerSpec:
    """A recipe for a ranker: fit it on any TrainSet and get the same kind of model."""

    kind: str  # popularity | tag_popularity | content | lightfm | blend
    config: LightFMConfig | None = None
    blend_with: str = ""
    weight: float = 0.0

    @property
    def name(self) -> str:
        if self.kind == "lightfm":
            assert self.config is not None
            return "lightfm_hybrid" if self.config.features else "lightfm_pure"
        if self.kind == "blend":
            assert self.config is not None
            base = "lightfm_hybrid" if self.config.features else "lightfm_pure"
            return f"{base}+{self.weight:g}*{self.blend_with}"
        return self.kind

    def describe(self) -> str:
        return f"{self.name} [{self.config.label()}]" if self.config else self.name


def _simple(kind: str) -> Ranker:
    return {"popularity": PopularityRanker, "tag_popularity": TagPopularityRanker, "content": ContentRanker}[
        kind
    ]()


def build_ranker(
    spec: RankerSpec,
    train: TrainSet,
    *,
    seed: int = 0,
    num_threads: int = 1,
    max_fit_seconds: float | None = None,
    fitted: dict[RankerSpec, Ranker] | None = None,
) -> Ranker:
    """Fit the ranker a spec describes (reusing `fitted` ones on the same train set). Serving calls this too."""
    if fitted is not None and spec in fitted:
        return fitted[spec]
    if spec.kind == "lightfm":
        assert spec.config is not None
        return LightFMRanker(
            spec.config, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
        ).fit(train)
    if spec.kind == "blend":
        base_spec = RankerSpec("lightfm", spec.config)
        base = build_ranker(
            base_spec,
            train,
            seed=seed,
            num_threads=num_threads,
            max_fit_seconds=max_fit_seconds,
            fitted=fitted,
        )
        other = build_ranker(RankerSpec(spec.blend_with), train, fitted=fitted)
        return BlendRanker(base, other, spec.weight, seed=seed).fit(train)
    return _simple(spec.kind).fit(train)


def lightfm_grid(regime: str, *, features: bool, size: str) -> tuple[list[LightFMConfig], tuple[int, ...]]:
    """A small bounded grid; epochs are checkpoints of one training run, not separate fits."""
    if size == "tiny":
        if features and regime == "cold_items":
            # The one hybrid for new products is the fans-per-item one (see below).
            tiny = LightFMConfig(features=True, no_components=16, item_identity=False, transpose=True)
            return [tiny], (10, 20)
        return [LightFMConfig(features=features, no_components=16)], (10, 20)
    # One size: on 2 shared cores a second size doubled the run for no validation gain on synthetic data.
    components = (32,)
    epochs = (5, 10, 20, 30)
    if not features:
        return [LightFMConfig(features=False, no_components=d) for d in components], epochs
    # Identity features help fans with history; held-out entities are represented by tags alone, and
    # tag embeddings learn more when identities do not soak up the signal: validation decides.
    if regime == "warm_users":
        identity = [dict(identity_share=0.5), dict(identity_share=0.8)]
    elif regime == "cold_users":
        identity = [dict(user_identity=False), dict(user_identity=True, identity_share=0.5)]
    else:
        # Ranking fans for a new product is the cold-items question: WARP on the transposed matrix asks
        # exactly that (and learns fan activity as a bias); the usual direction ranks products per fan.
        identity = [
            dict(item_identity=False),
            dict(item_identity=True, identity_share=0.5),
            dict(item_identity=False, transpose=True),
            dict(item_identity=False, user_identity=False, transpose=True),
        ]
    configs = [
        LightFMConfig(features=True, no_components=d, **extra) for d in components for extra in identity
    ]
    return configs, epochs


@dataclass
class RegimeResult:
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    validation: dict[str, float | None] = field(default_factory=dict)
    served: RankerSpec | None = None
    confirmation: Confirmation | None = None
    fit_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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
    val_split = split_interactions(train, regime, seed=seed, stream=1)
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
    simple = {kind: _simple(kind).fit(val_train) for kind in baselines}
    # Baselines are cheap: on small data they are compared on every validation fold that will be pooled
    # for the confirmation, so the incumbent (popularity vs tag popularity, say) is not chosen on noise.
    pooled = PooledScores()
    fold0_units = selection_units(val_split)
    for kind in baselines:
        values = selection_scores(simple[kind], val_split, k)
        consider_values(RankerSpec(kind), simple[kind], values)
        pooled.add(kind, fold0_units, values)
    n_units = len(pooled.units(*baselines))
    extra_folds = min(int(round(1 / HOLDOUT_FRACTION)) - 1, max(1, -(-CONFIRM_MIN_UNITS // max(n_units, 1))))
    confirm_splits: list[tuple[Split, TrainSet]] = []
    for fold in range(1, extra_folds + 1):
        fold_split = split_interactions(train, regime, seed=seed, stream=1, fold=fold)
        fold_train = build_train_set(catalog, fold_split.train)
        if len(fold_split.test) == 0 or fold_train.nnz == 0:
            continue
        confirm_splits.append((fold_split, fold_train))
        for kind in baselines:
            pooled.add(
                f"{kind}@confirm",
                selection_units(fold_split),
                selection_scores(_simple(kind).fit(fold_train), fold_split, k),
            )
    # All folds together, the tuning fold and the confirmation folds; the first maximum: ties keep the simpler.
    incumbent = max(baselines, key=lambda kind: pooled.mean(kind, f"{kind}@confirm"))
    if len(val_split.test) == 0 or val_train.nnz == 0:
        log(f"  {regime}: validation split too small to tune; serving popularity")
        fallback = RankerSpec("popularity")
        specs = {"popularity": fallback, **{kind: RankerSpec(kind) for kind in baselines}}
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
                consider(RankerSpec("blend", spec.config, blend_with=partner, weight=weight), blend)

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


def evaluate_regime(
    catalog: Catalog,
    regime: str,
    *,
    k: int,
    seed: int,
    num_threads: int = 1,
    max_fit_seconds: float | None = None,
    grid: str = "standard",
    log: Callable[[str], None] = lambda _: None,
) -> RegimeResult:
    result = RegimeResult()
    split = split_interactions(catalog.interactions, regime, seed=seed)
    train = build_train_set(catalog, split.train)
    if train.nnz == 0:
        note = f"{regime}: no training interactions, so only popularity can be reported (it ranks nothing)"
        result.notes.append(note)
        ranker = PopularityRanker().fit(train)
        metrics = evaluate_ranker(ranker, split, k)
        result.metrics = {"popularity": metrics, "served": {**metrics, "served_name": "popularity"}}
        result.served = RankerSpec("popularity")
        return result
    if len(split.test) == 0:
        result.notes.append(f"{regime}: no test interactions (too few users/items to hold any out)")

    selection = tune_and_select(
        catalog,
        split.train,
        regime,
        k=k,
        seed=seed,
        num_threads=num_threads,
        max_fit_seconds=max_fit_seconds,
        grid=grid,
        log=log,
    )
    served, specs, result.validation = selection.served, selection.specs, selection.scores
    result.served = served
    result.confirmation = selection.confirmation
    if selection.note:
        result.notes.append(f"{regime}: {selection.note}")
    order = [*BASELINES[regime], "lightfm_hybrid", "lightfm_pure"]
    fitted: dict[RankerSpec, Ranker] = {}
    for name in order:
        spec = specs[name]
        ranker = build_ranker(
            spec, train, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
        )
        fitted[spec] = ranker
        result.fit_seconds[name] = round(ranker.fit_seconds, 3)
        result.metrics[name] = evaluate_ranker(ranker, split, k)
        if ranker.note:
            result.notes.append(f"{regime}/{name}: {ranker.note}")
    if served in fitted:
        served_ranker = fitted[served]
        served_metrics = result.metrics[served.name]
    else:
        served_ranker = build_ranker(
            served, train, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds, fitted=fitted
        )
        served_metrics = evaluate_ranker(served_ranker, split, k)
    result.fit_seconds["served"] = round(served_ranker.fit_seconds, 3)
    result.metrics["served"] = {**served_metrics, "served_name": served.name}
    return result


@dataclass
class EvaluationReport:
    k: int
    regimes: dict[str, RegimeResult]
    seconds: float

    @property
    def fit_seconds(self) -> float:
        """Seconds to fit the served ranker of each regime on its full training split, summed."""
        return round(sum(r.fit_seconds.get("served", 0.0) for r in self.regimes.values()), 3)

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "fit_seconds": self.fit_seconds,
            "regimes": {name: result.metrics for name, result in self.regimes.items()},
        }

    @property
    def notes(self) -> list[str]:
        return [note for result in self.regimes.values() for note in result.notes]

    def table(self) -> str:
        lines = []
        header = f"{'regime':<11} {'ranker':<44} {'P@' + str(self.k):>8} {'R@' + str(self.k):>8} {'AUC':>7} {'fit s':>7}"
        lines.append(header)
        lines.append("-" * len(header))

        def fmt(value: float | None) -> str:
            return "    n/a" if value is None else f"{value:.4f}"

        for regime, result in self.regimes.items():
            for name, metrics in result.metrics.items():
                label = name
                if name == "served":
                    label = f"served = {metrics['served_name']}"
                lines.append(
                    f"{regime:<11} {label:<44} {fmt(metrics['precision_at_k']):>8} "
                    f"{fmt(metrics['recall_at_k']):>8} {fmt(metrics['auc']):>7} "
                    f"{result.fit_seconds.get(name, 0.0):>7.2f}"
                )
            if result.served is not None:
                lines.append(f"{'':<11} served recipe: {result.served.describe()}")
        lines.append(f"fit_seconds (served models) = {self.fit_seconds:.2f}; total run {self.seconds:.1f} s")
        return "\n".join(lines)


def run_evaluation(
    catalog: Catalog,
    *,
    k: int = 10,
    seed: int = 0,
    num_threads: int = 1,
    max_fit_seconds: float | None = None,
    grid: str = "standard",
    regimes: tuple[str, ...] = REGIMES,
    log: Callable[[str], None] = lambda _: None,
) -> EvaluationReport:
    started = time.perf_counter()
    results = {
        regime: evaluate_regime(
            catalog,
            regime,
            k=k,
            seed=seed,
            num_threads=num_threads,
            max_fit_seconds=max_fit_seconds,
            grid=grid,
            log=log,
        )
        for regime in regimes
    }
    return EvaluationReport(k=k, regimes=results, seconds=time.perf_counter() - started)
