"""Per-entity ranking metrics (precision@k, recall@k, AUC): test metrics and per-unit selection scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from recommend.data import Split
from recommend.rankers import Ranker

METRICS: tuple[str, ...] = ("precision_at_k", "recall_at_k", "auc")
BATCH = 512


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
