"""One regime end to end (split, select on validation, refit, test once) and the report over every regime."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recommend.data import CHAT_REGIME, REGIMES, Catalog, Split, build_train_set, split_interactions
from recommend.evaluation.confirmation import Confirmation, PooledScores
from recommend.evaluation.metrics import evaluate_ranker, selection_scores, selection_units
from recommend.evaluation.selection import CONFIRM_MIN_UNITS, REPORTED, SELECTION_METRIC, tune_and_select
from recommend.evaluation.specs import RankerSpec, build_ranker, collaborative_grid
from recommend.rankers import PopularityRanker, Ranker


@dataclass
class RegimeResult:
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    validation: dict[str, float | None] = field(default_factory=dict)
    served: RankerSpec | None = None
    confirmation: Confirmation | None = None
    fit_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    served_vs_best_baseline: dict[str, Any] | None = None
    # chat_users only: served against served_tags_only on precision@k, and how validation chose text or not.
    lift_from_text: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.metrics)
        if self.served_vs_best_baseline is not None:
            out["served_vs_best_baseline"] = self.served_vs_best_baseline
        if self.lift_from_text is not None:
            out["lift_from_text"] = self.lift_from_text
        return out


def served_vs_best_baseline(metrics: dict[str, dict[str, Any]], regime: str) -> dict[str, Any] | None:
    """The served ranker against the strongest baseline on the test split, on the regime's selection metric.

    Baselines: every non-LightFM ranker reported for the regime (popularity, tag popularity or content,
    EASE, item-kNN, ALS). `ratio` is served / best; `difference` served - best.
    """
    metric = SELECTION_METRIC.get(regime, "precision_at_k")
    served = metrics.get("served", {}).get(metric)
    candidates = {
        name: values[metric]
        for name, values in metrics.items()
        if name in REPORTED.get(regime, ()) and values.get(metric) is not None
    }
    if served is None or not candidates:
        return None
    best_name = max(candidates, key=candidates.__getitem__)
    best = candidates[best_name]
    return {
        "metric": metric,
        "served": served,
        "best_baseline": best_name,
        "best_baseline_value": best,
        "ratio": round(served / best, 4) if best else None,
        "difference": round(served - best, 6),
    }


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
    split: Split | None = None,
) -> RegimeResult:
    result = RegimeResult()
    if split is None:
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
    order = [*REPORTED[regime], "lightfm_hybrid", "lightfm_pure"]
    fitted: dict[RankerSpec, Ranker] = {}
    for name in order:
        # A collaborative ranker outside the regime's selection is reported at its default settings.
        spec = specs.get(name) or collaborative_grid(name, size="tiny")[0]
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
    result.served_vs_best_baseline = served_vs_best_baseline(result.metrics, regime)
    return result


# Text is served for chat fans only if it beats tags alone on the validation folds by at least this much
# (mean per-fan precision@k): "text never hurts" means a tie keeps tags only.
TEXT_MIN_GAIN = 0.0


def evaluate_chat_regime(
    catalog: Catalog,
    *,
    k: int,
    seed: int,
    num_threads: int = 1,
    max_fit_seconds: float | None = None,
    grid: str = "standard",
    log: Callable[[str], None] = lambda _: None,
) -> RegimeResult:
    """chat_users: 20% of the fans with text held out with every interaction; at test time they are known by
    their tags and their text only.

    Two pipelines run on the same split: tags only (the catalogue without text: every baseline and the
    served_tags_only figure) and with text (selection as for cold fans, with text features beside tags). The
    text recipe is served only if it beats the tags-only served recipe on the validation folds (mean
    precision@k over the pooled held-out fans, never the test split); otherwise the tags-only recipe is
    served, so text never hurts on validation.
    """
    regime = CHAT_REGIME
    tags_catalog = catalog.without_text()
    eligible = catalog.text_users()
    split = split_interactions(catalog.interactions, regime, seed=seed, eligible=eligible)
    base = dict(k=k, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds, grid=grid, log=log)
    result = evaluate_regime(tags_catalog, regime, split=split, **base)  # type: ignore[arg-type]
    tags_spec = result.served
    tags_metrics = result.metrics.get("served")
    if tags_spec is None or tags_metrics is None or len(split.test) == 0:
        result.notes.append(f"{regime}: too little data to evaluate text")
        return result
    result.metrics["served_tags_only"] = dict(tags_metrics)

    text_selection = tune_and_select(
        catalog, split.train, regime, k=k, seed=seed, num_threads=num_threads,
        max_fit_seconds=max_fit_seconds, grid=grid, log=log,
    )  # fmt: skip
    text_spec = text_selection.served
    # Text against tags only, each refitted on validation folds they were not tuned on (folds 1..n).
    pooled = PooledScores()
    folds = 0
    for fold in range(1, int(round(1 / 0.2))):
        fold_split = split_interactions(
            split.train, regime, seed=seed, stream=1, fold=fold, eligible=eligible
        )
        if len(fold_split.test) == 0:
            continue
        units = selection_units(fold_split)
        for name, cat, spec in (("text", catalog, text_spec), ("tags", tags_catalog, tags_spec)):
            fold_train = build_train_set(cat, fold_split.train)
            if fold_train.nnz == 0:
                continue
            ranker = build_ranker(
                spec, fold_train, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
            )
            pooled.add(name, units, selection_scores(ranker, fold_split, k))
        folds += 1
        if len(pooled.units("text", "tags")) >= CONFIRM_MIN_UNITS:
            break
    units = pooled.units("text", "tags")
    text_value = float(pooled.values(units, "text").mean()) if units else -1.0
    tags_value = float(pooled.values(units, "tags").mean()) if units else -1.0
    use_text = bool(units) and text_value - tags_value > TEXT_MIN_GAIN
    note = (
        f"text recipe {text_spec.describe()} vs tags-only {tags_spec.describe()} on {folds} validation "
        f"fold(s), {len(units)} fans: precision@{k} {text_value:.4f} vs {tags_value:.4f}: "
        + ("serving text" if use_text else "serving tags only")
    )
    log(f"  {regime}: {note}")
    result.notes.append(f"{regime}: {note}")
    train = build_train_set(catalog, split.train)
    text_ranker = build_ranker(
        text_spec, train, seed=seed, num_threads=num_threads, max_fit_seconds=max_fit_seconds
    )
    text_metrics = evaluate_ranker(text_ranker, split, k)
    result.metrics["served_text_candidate"] = {**text_metrics, "served_name": f"{text_spec.name} with text"}
    if use_text:
        result.served = text_spec
        result.fit_seconds["served"] = round(text_ranker.fit_seconds, 3)
        result.metrics["served"] = {**text_metrics, "served_name": f"{text_spec.name} with text"}
    served_p = result.metrics["served"]["precision_at_k"]
    tags_p = tags_metrics["precision_at_k"]
    result.lift_from_text = {
        "metric": SELECTION_METRIC[regime],
        "served": served_p,
        "served_tags_only": tags_p,
        "lift": round(served_p / tags_p - 1.0, 4) if served_p is not None and tags_p else None,
        "difference": round(served_p - tags_p, 6) if served_p is not None and tags_p is not None else None,
        "text_served": use_text,
        "text_recipe": text_spec.describe(),
        "tags_only_recipe": tags_spec.describe(),
        "validation_text": round(text_value, 6),
        "validation_tags_only": round(tags_value, 6),
        "validation_fans": len(units),
        "validation_folds": folds,
        "text_users": int(len(eligible)),
        "held_out_fans": int(len(split.held_out)),
        "text_vocabulary": len(train.text.vocab) if train.text else 0,
    }
    result.served_vs_best_baseline = served_vs_best_baseline(result.metrics, regime)
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
            "regimes": {name: result.to_json() for name, result in self.regimes.items()},
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
            versus = result.served_vs_best_baseline
            if versus is not None:
                ratio = "n/a" if versus["ratio"] is None else f"{versus['ratio']:.3f}x"
                lines.append(
                    f"{'':<11} served vs best baseline ({versus['best_baseline']}, {versus['metric']}): "
                    f"{ratio}, {versus['difference']:+.4f}"
                )
            lift = result.lift_from_text
            if lift is not None and lift["lift"] is not None:
                lines.append(
                    f"{'':<11} lift from text ({lift['metric']}): {lift['lift']:+.2%} "
                    f"({'text served' if lift['text_served'] else 'tags only served'})"
                )
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
    """Every regime; with user text (catalog.user_docs) also chat_users. The three classic regimes are
    evaluated on tags alone, so their figures do not change when text is supplied."""
    started = time.perf_counter()
    results = {
        regime: evaluate_regime(
            catalog.without_text(),
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
    if catalog.user_docs is not None:
        results[CHAT_REGIME] = evaluate_chat_regime(
            catalog,
            k=k,
            seed=seed,
            num_threads=num_threads,
            max_fit_seconds=max_fit_seconds,
            grid=grid,
            log=log,
        )
    return EvaluationReport(k=k, regimes=results, seconds=time.perf_counter() - started)
