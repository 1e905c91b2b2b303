"""Rankers: fit on a TrainSet, then score any users against any items.

Every ranker has the same two-call API, used both by offline evaluation and by serving:

    ranker = PopularityRanker().fit(train_set)
    scores = ranker.score(users, items)   # float32 array of shape (len(users), len(items)); higher is better

`users`/`items` are catalogue indices. Scores are comparable along both axes (ranking items for one user, or
users for one item), and do not depend on which other users/items are in the same call.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Self

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM
from threadpoolctl import threadpool_limits

from recommend.data import TrainSet


def _normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / sums).astype(np.float32)) @ matrix, dtype=np.float32)


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ matrix, dtype=np.float32)


class Ranker:
    name: str = "ranker"
    fit_seconds: float = 0.0
    # Set when a ranker had to fall back (e.g. no training interactions); shown to the user.
    note: str = ""

    def fit(self, train: TrainSet) -> Self:
        raise NotImplementedError

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class PopularityRanker(Ranker):
    """Items by number of training fans; for one item, fans by number of training items (activity).

    score(u, i) = log1p(fans of i) + log1p(items of u): the item term ranks items for a user, the user term
    ranks fans for an item, which is the simple baseline for "which fans to invite" to a new product.
    """

    name = "popularity"

    def fit(self, train: TrainSet) -> Self:
        started = time.perf_counter()
        binary = train.interactions.astype(bool)
        self.item_term = np.log1p(np.asarray(binary.sum(axis=0)).ravel()).astype(np.float32)
        self.user_term = np.log1p(np.asarray(binary.sum(axis=1)).ravel()).astype(np.float32)
        self.fit_seconds = time.perf_counter() - started
        return self

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.user_term[users][:, None] + self.item_term[items][None, :]


class TagPopularityRanker(Ranker):
    """Popularity among training fans who share the fan's tags (a smoothed naive-Bayes estimate).

    log P(i | tags) ~ log P(i) + sum over the fan's tags t of log(P(i | t) / P(i)), where P(i | t) is the
    share of training fans with tag t who took item i, shrunk towards P(i) for rare tags. A fan with no
    known tags gets plain popularity.
    """

    name = "tag_popularity"

    def __init__(self, smoothing: float = 20.0) -> None:
        self.smoothing = smoothing

    def fit(self, train: TrainSet) -> Self:
        started = time.perf_counter()
        binary = train.interactions.astype(bool).astype(np.float32)
        n_known = max(int(train.known_users.sum()), 1)
        item_rate = (np.asarray(binary.sum(axis=0)).ravel() + 0.5) / (n_known + 1.0)
        tags_known = train.user_tags[train.known_users]
        tag_users = np.asarray(tags_known.sum(axis=0)).ravel()  # fans per tag
        tag_item = np.asarray((tags_known.T @ binary[train.known_users]).todense())  # tags x items
        smoothed = (tag_item + self.smoothing * item_rate[None, :]) / (tag_users[:, None] + self.smoothing)
        self.log_item = np.log(item_rate).astype(np.float32)
        self.lift = np.log(smoothed / item_rate[None, :]).astype(np.float32)  # tags x items
        self.user_tags = train.user_tags
        self.fit_seconds = time.perf_counter() - started
        return self

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        lift = self.user_tags[users] @ self.lift[:, items]
        return (np.asarray(lift) + self.log_item[items][None, :]).astype(np.float32)


class ContentRanker(Ranker):
    """A fan's profile is the IDF-weighted features of the items they took; scored by cosine to an item."""

    name = "content"

    def fit(self, train: TrainSet) -> Self:
        started = time.perf_counter()
        features = train.item_tags[train.known_items]
        doc_freq = np.asarray((features > 0).sum(axis=0)).ravel()
        idf = np.log((1.0 + features.shape[0]) / (1.0 + doc_freq)) + 1.0
        self.item_vectors = _l2_rows(sp.csr_matrix(train.item_tags @ sp.diags(idf.astype(np.float32))))
        self.user_profiles = _l2_rows(sp.csr_matrix(train.interactions @ self.item_vectors))
        self.fit_seconds = time.perf_counter() - started
        return self

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        product = self.user_profiles[users] @ self.item_vectors[items].T
        return np.asarray(product.todense(), dtype=np.float32)


@dataclass(frozen=True)
class LightFMConfig:
    """One point of the LightFM grid. `features=False` is pure collaborative filtering (identity only)."""

    features: bool = True
    no_components: int = 32
    epochs: int = 30
    learning_rate: float = 0.05
    alpha: float = 0.0  # item_alpha = user_alpha
    max_sampled: int = 10
    loss: str = "warp"
    # Identity features for entities with training history, and their share of the (row-normalised)
    # feature weight; tags share the rest. Held-out entities never get an (untrainable) identity feature.
    user_identity: bool = True
    item_identity: bool = True
    identity_share: float = 0.5
    use_weights: bool = False
    # Train on the transposed matrix: WARP then ranks fans for each product (the cold-items question),
    # and learns a fan bias (activity) instead of a product bias.
    transpose: bool = False

    def label(self) -> str:
        parts = [
            f"d={self.no_components}",
            f"ep={self.epochs}",
            f"lr={self.learning_rate}",
            f"a={self.alpha:g}",
        ]
        if self.features:
            parts.append(
                f"id={'u' if self.user_identity else ''}{'i' if self.item_identity else ''}"
                f"@{self.identity_share:g}"
            )
        if self.use_weights:
            parts.append("weighted")
        if self.transpose:
            parts.append("fans-per-item")
        return " ".join(parts)


RANKING_LOSSES = frozenset({"warp", "bpr", "warp-kos"})


class LightFMRanker(Ranker):
    def __init__(
        self,
        config: LightFMConfig,
        *,
        seed: int = 0,
        num_threads: int = 1,
        max_fit_seconds: float | None = None,
    ) -> None:
        self.config = config
        self.seed = seed
        self.num_threads = num_threads
        # Stop adding epochs once the next one would overrun this budget (then fewer epochs than asked).
        self.max_fit_seconds = max_fit_seconds
        self.name = "lightfm_hybrid" if config.features else "lightfm_pure"
        self.fallback: PopularityRanker | None = None

    def _feature_matrix(self, tags: sp.csr_matrix, known: np.ndarray, identity: bool) -> sp.csr_matrix:
        tag_part = _normalize_rows(tags)
        if not identity:
            return tag_part
        share = self.config.identity_share
        has_tags = np.asarray(tags.sum(axis=1)).ravel() > 0
        id_weight = np.where(known, np.where(has_tags, share, 1.0), 0.0).astype(np.float32)
        tag_weight = np.where(known, 1.0 - share, 1.0).astype(np.float32)
        ident = sp.diags(id_weight).tocsr()
        return sp.hstack([ident, sp.diags(tag_weight) @ tag_part], format="csr", dtype=np.float32)

    def _prepare(self, train: TrainSet) -> tuple[sp.coo_matrix, sp.coo_matrix | None]:
        if self.config.features:
            self.user_features = self._feature_matrix(
                train.user_tags, train.known_users, self.config.user_identity
            )
            self.item_features = self._feature_matrix(
                train.item_tags, train.known_items, self.config.item_identity
            )
        else:
            self.user_features = sp.identity(train.n_users, dtype=np.float32, format="csr")
            self.item_features = sp.identity(train.n_items, dtype=np.float32, format="csr")
        coo = (train.interactions.T if self.config.transpose else train.interactions).tocoo()
        interactions = sp.coo_matrix(
            (np.ones_like(coo.data, dtype=np.float32), (coo.row, coo.col)), shape=coo.shape
        )
        weights = None
        if self.config.use_weights:
            weights = sp.coo_matrix((coo.data.astype(np.float32), (coo.row, coo.col)), shape=coo.shape)
        return interactions, weights

    def fit(self, train: TrainSet) -> Self:
        for _ in self.fit_checkpoints(train, (self.config.epochs,)):
            pass
        return self

    def fit_checkpoints(self, train: TrainSet, epochs: tuple[int, ...]) -> Iterator[Self]:
        """Train once, yielding the ranker after each epoch count in `epochs` (for cheap epoch tuning)."""
        started = time.perf_counter()
        self.fallback: PopularityRanker | None = None
        if train.nnz == 0:
            self.fallback = PopularityRanker().fit(train)
            self.note = "no training interactions: LightFM cannot learn, scored by popularity"
            self.fit_seconds = time.perf_counter() - started
            for count in sorted(epochs):
                self.config = replace(self.config, epochs=count)
                yield self
            return
        interactions, weights = self._prepare(train)
        cfg = self.config
        self.model = LightFM(
            no_components=cfg.no_components,
            learning_rate=cfg.learning_rate,
            loss=cfg.loss,
            item_alpha=cfg.alpha,
            user_alpha=cfg.alpha,
            max_sampled=cfg.max_sampled,
            random_state=self.seed,
        )
        row_features, column_features = self._lightfm_sides()
        done = 0
        for count in sorted(epochs):
            while done < count:
                self.model.fit_partial(
                    interactions,
                    user_features=row_features,
                    item_features=column_features,
                    sample_weight=weights,
                    epochs=1,
                    num_threads=self.num_threads,
                )
                done += 1
                self.fit_seconds = time.perf_counter() - started
                if self._over_budget(done):
                    break
            self.config = replace(self.config, epochs=done)
            self._cache_representations()
            self.fit_seconds = time.perf_counter() - started
            yield self
            started = time.perf_counter() - self.fit_seconds  # don't bill evaluation time to fitting
            if done < count:
                self.note = f"stopped after {done} epochs to stay within {self.max_fit_seconds:g} s"
                return

    def _over_budget(self, done: int) -> bool:
        if self.max_fit_seconds is None:
            return False
        return self.fit_seconds + self.fit_seconds / done > self.max_fit_seconds

    def _lightfm_sides(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(LightFM's user features, LightFM's item features): swapped when training on the transpose."""
        if self.config.transpose:
            return self.item_features, self.user_features
        return self.user_features, self.item_features

    def _cache_representations(self) -> None:
        row_features, column_features = self._lightfm_sides()
        row = self.model.get_user_representations(row_features)
        column = self.model.get_item_representations(column_features)
        if self.config.transpose:
            row, column = column, row
        self.user_bias, self.user_vectors = row
        self.item_bias, self.item_vectors = column

    @property
    def ranked_side(self) -> str:
        """Whose bias a ranking loss learns: LightFM's item side ("user" when trained on the transpose)."""
        return "user" if self.config.transpose else "item"

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self.fallback is not None:
            return self.fallback.score(users, items)
        scores = self.user_vectors[users] @ self.item_vectors[items].T
        # Ranking losses (WARP, BPR) compare items of one fan, so a fan's bias cancels in every update and is
        # not learned: it only drifts (against activity, measured). Leaving it out keeps fans comparable.
        # Trained on the transpose, it is the product's bias that cancels.
        ranking = self.config.loss in RANKING_LOSSES
        if not ranking or self.ranked_side == "user":
            scores += self.user_bias[users][:, None]
        if not ranking or self.ranked_side == "item":
            scores += self.item_bias[items][None, :]
        return scores.astype(np.float32, copy=False)


class BlendRanker(Ranker):
    """base + weight * popularity, each standardised with statistics fixed at fit time.

    Validation decides whether (and how much) popularity helps the learned model; weight 0 is the model.
    """

    def __init__(self, base: Ranker, other: Ranker, weight: float, *, seed: int = 0) -> None:
        self.base = base
        self.other = other
        self.weight = weight
        self.seed = seed
        self.name = f"{base.name}+{weight:g}*{other.name}"

    def fit(self, train: TrainSet) -> Self:
        """Expects `base` and `other` already fitted on `train`; only measures their score scales."""
        started = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        users = rng.integers(0, train.n_users, size=min(200, train.n_users))
        items = rng.integers(0, train.n_items, size=min(200, train.n_items))
        self.stats = []
        for ranker in (self.base, self.other):
            sample = ranker.score(users, items)
            self.stats.append((float(sample.mean()), float(sample.std()) or 1.0))
        self.fit_seconds = self.base.fit_seconds + self.other.fit_seconds + time.perf_counter() - started
        self.note = self.base.note
        return self

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        (mean_a, std_a), (mean_b, std_b) = self.stats
        base = (self.base.score(users, items) - mean_a) / std_a
        if self.weight == 0:
            return base
        return base + self.weight * (self.other.score(users, items) - mean_b) / std_b


# --- collaborative baselines that are hard to beat on implicit feedback (EASE, item-kNN, ALS) -------------
# They learn from interaction history only: a fan or product without training interactions scores 0 against
# everything (the metrics then rank it by the fixed random tie order). The regimes about new fans and new
# products report them for that reason: it is what pure collaborative filtering can do there.


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = matrix.astype(bool).astype(np.float32)
    out.eliminate_zeros()
    return sp.csr_matrix(out)


class ItemItemRanker(Ranker):
    """score(u, i) = sum over the fan's training items h of B[h, i]: an item-item model (EASE, kNN)."""

    weights: np.ndarray | sp.csr_matrix  # items x items

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        history = self.history[users]
        block = self.weights[:, items]
        product = history @ block
        if sp.issparse(product):
            product = product.toarray()
        return np.asarray(product, dtype=np.float32)


class EASERanker(ItemItemRanker):
    """EASE (Steck 2019): B = I - P / diag(P), P = (X^T X + lambda I)^-1, diag(B) = 0; X binary.

    One matrix inverse over the products, the closed form of the paper (written out rather than taken
    from rectools, which pins numpy < 2 and pandas for the same five lines).
    """

    name = "ease"

    def __init__(self, l2: float = 300.0) -> None:
        self.l2 = l2

    def fit(self, train: TrainSet) -> Self:
        started = time.perf_counter()
        self.history = _binary(train.interactions)
        gram = (self.history.T @ self.history).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights = weights.astype(np.float32)
        self.fit_seconds = time.perf_counter() - started
        return self


class ItemKNNRanker(ItemItemRanker):
    """Item-kNN with cosine similarity (implicit's CosineRecommender): each item keeps its K nearest."""

    name = "item_knn"

    def __init__(self, neighbours: int = 100, num_threads: int = 1) -> None:
        self.neighbours = neighbours
        self.num_threads = num_threads

    def fit(self, train: TrainSet) -> Self:
        from implicit.nearest_neighbours import CosineRecommender

        started = time.perf_counter()
        self.history = _binary(train.interactions)
        if train.nnz == 0:
            self.weights = sp.csr_matrix((train.n_items, train.n_items), dtype=np.float32)
            self.note = "no training interactions: item-kNN scores nothing"
            return self
        model = CosineRecommender(K=int(self.neighbours), num_threads=self.num_threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # implicit's note that it converted a format internally
            model.fit(self.history, show_progress=False)
        # implicit keeps item x neighbour similarities; scoring is history @ similarity.
        self.weights = sp.csr_matrix(model.similarity, dtype=np.float32)
        self.fit_seconds = time.perf_counter() - started
        return self


class ALSRanker(Ranker):
    """Implicit-feedback ALS (Hu, Koren, Volinsky 2008; implicit's CPU solver): score = U[u] . V[i].

    Confidence 1 + alpha * weight on the (binary) training matrix.
    """

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        *,
        seed: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.factors = int(factors)
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = int(iterations)
        self.seed = seed
        self.num_threads = num_threads

    def fit(self, train: TrainSet) -> Self:
        from implicit.cpu.als import AlternatingLeastSquares

        started = time.perf_counter()
        if train.nnz == 0:
            self.user_vectors = np.zeros((train.n_users, self.factors), dtype=np.float32)
            self.item_vectors = np.zeros((train.n_items, self.factors), dtype=np.float32)
            self.note = "no training interactions: ALS scores nothing"
            return self
        # implicit asks for a single-threaded BLAS: its own threads already share the cores.
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            model.fit(_binary(train.interactions), show_progress=False)
        self.user_vectors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_vectors = np.asarray(model.item_factors, dtype=np.float32)
        # A fan or product with no training interactions gets ALS's solution for an empty row: not zero in
        # general (random init survives for empty rows); zero it so "unknown" means "no opinion".
        self.user_vectors[~train.known_users] = 0.0
        self.item_vectors[~train.known_items] = 0.0
        self.fit_seconds = time.perf_counter() - started
        return self

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.user_vectors[users] @ self.item_vectors[items].T
