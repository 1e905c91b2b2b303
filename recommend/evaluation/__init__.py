"""Honest offline evaluation of the rankers in three regimes (see docs/recommend-eval.md).

For each regime: split the catalogue into train/test; split train again (same regime structure) into two
validation splits with disjoint held-out parts; tune LightFM on the first, and serve the best learned recipe
only if it beats the best baseline on the second by more than noise; refit everything on the full train
split; report test metrics. The test split is touched once, at the very end.

metrics (per-entity precision@k, recall@k, AUC) · confirmation (pooled folds, paired bootstrap) · specs
(ranker recipes and the LightFM grid) · selection (tune_and_select) · regimes (evaluate_regime, the report).
Tunables and private helpers are not re-exported: import and patch them in the module that uses them.
"""

from recommend.evaluation.confirmation import Confirmation, PooledScores, confirm
from recommend.evaluation.metrics import (
    METRICS,
    evaluate_ranker,
    rank_items_for_users,
    rank_users_for_items,
    selection_scores,
    selection_units,
)
from recommend.evaluation.regimes import EvaluationReport, RegimeResult, evaluate_regime, run_evaluation
from recommend.evaluation.selection import BASELINES, SELECTION_METRIC, Selection, tune_and_select
from recommend.evaluation.specs import RankerSpec, build_ranker, lightfm_grid

__all__ = [
    "BASELINES",
    "METRICS",
    "SELECTION_METRIC",
    "Confirmation",
    "EvaluationReport",
    "PooledScores",
    "RankerSpec",
    "RegimeResult",
    "Selection",
    "build_ranker",
    "confirm",
    "evaluate_ranker",
    "evaluate_regime",
    "lightfm_grid",
    "rank_items_for_users",
    "rank_users_for_items",
    "run_evaluation",
    "selection_scores",
    "selection_units",
    "tune_and_select",
]
