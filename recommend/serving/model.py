"""The loaded serving model: a version's factor tables, with per-shop candidates built once and kept."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from recommend.features import product_features
from recommend.training import Artifacts, Part
from shops.models import Product

# Serving's products are small (one fan or one product against one shop): on one BLAS thread. With a thread
# per core, OpenBLAS's idle workers spin after each call and burned the other core while the call waited
# for PostgreSQL (fans_for_product: process CPU above wall; 17 ms of CPU per 1 ms matvec + 10 ms wait).
# The limit is process-wide; threads that overlap may restore it early (only speed) or leave it at one thread
# (what serving wants; training sets its own, recommend.rankers).
_blas = ThreadpoolController()


def one_blas_thread() -> Any:
    """A context in which BLAS runs on the calling thread only (about 30 microseconds to enter)."""
    return _blas.limit(limits=1, user_api="blas")


def _combine(rows: np.ndarray, mode: str, weights: np.ndarray | None = None) -> np.ndarray:
    """Feature rows combined as training did: sum, mean (weighted by the feature values, as LightFM's
    row-normalised features) or L2-normalised sum. Without weights every feature counts 1."""
    if rows.shape[0] == 0:
        return np.zeros(rows.shape[1], dtype=np.float32)
    if weights is None:
        total = rows.sum(axis=0)
        count = float(rows.shape[0])
    else:
        total = weights.astype(np.float32) @ rows
        count = float(weights.sum()) or 1.0
    if mode == "mean":
        return total / count
    if mode == "l2":
        norm = float(np.sqrt((total * total).sum()))
        return total / norm if norm else total
    return total


@dataclass(frozen=True)
class SparseRow:
    """A fan's history as (product rows, weights), for an item-item part: its score for candidate i is
    sum over h of weight_h * V[i, h], computed per call from a few dozen columns."""

    index: np.ndarray
    value: np.ndarray


class GatherBlock:
    """V of an item-item part over a shop's candidates, without copying V (products x products).

    `block @ SparseRow` reads only the fan's history columns of the candidates' rows (candidates x history),
    so a pick costs O(candidates x history), not O(candidates x products). Products new since training
    score 0 in an item-item model (no history and no features to build from).
    """

    def __init__(self, V: np.ndarray, rows: np.ndarray, n_new: int) -> None:
        self.V, self.rows, self.n_new = V, rows, n_new

    def __matmul__(self, vector: SparseRow | np.ndarray) -> np.ndarray:
        out = np.zeros(len(self.rows) + self.n_new, dtype=np.float32)
        if isinstance(vector, SparseRow):
            if len(vector.index):
                out[: len(self.rows)] = self.V[np.ix_(self.rows, vector.index)] @ vector.value
        else:
            out[: len(self.rows)] = self.V[self.rows] @ vector
        return out


class ServingModel:
    def __init__(self, artifacts: Artifacts) -> None:
        self.artifacts = artifacts
        self.version = artifacts.version
        self.popularity_only = bool(artifacts.extra.get("popularity_only"))
        order = np.argsort(artifacts.user_pks)
        self._user_pks_sorted, self._user_rows_sorted = artifacts.user_pks[order], order
        self.user_vocab = {f: n for n, f in enumerate(artifacts.user_vocab)}
        self.item_vocab = {f: n for n, f in enumerate(artifacts.item_vocab)}
        self.max_item_pk = int(artifacts.item_pks.max()) if len(artifacts.item_pks) else 0
        self.max_user_pk = int(artifacts.user_pks.max()) if len(artifacts.user_pks) else 0
        self._shop_items: dict[int, np.ndarray] = {}
        self._shop_users: dict[int, np.ndarray] = {}
        self._shop_catalogues: dict[int, ShopCatalogue] = {}
        self._new_item_features: dict[int, list[int]] = {}
        self._shop_fan_blocks: dict[tuple[int, str], ShopFans] = {}
        # Objects derived from the artifacts once per loaded model (recommend.serving.live_text).
        self.extensions: dict[str, Any] = {}
        self._lock = threading.Lock()

    def regime(self, name: str) -> tuple[list[Part], str]:
        info = self.artifacts.regimes[name]
        return self.artifacts.models[info["model"]], info["name"]

    def regime_model(self, name: str) -> str:
        """The key of the factor tables a regime is served from (regimes may share one)."""
        return self.artifacts.regimes[name]["model"]

    def user_row(self, fan_pk: int) -> int | None:
        pos = int(np.searchsorted(self._user_pks_sorted, fan_pk))
        if pos < len(self._user_pks_sorted) and self._user_pks_sorted[pos] == fan_pk:
            return int(self._user_rows_sorted[pos])
        return None

    def shop_items(self, shop_id: int) -> np.ndarray:
        rows = self._shop_items.get(shop_id)
        if rows is None:
            rows = np.flatnonzero(self.artifacts.item_shops == shop_id)
            with self._lock:
                self._shop_items[shop_id] = rows
        return rows

    def shop_users(self, shop_id: int) -> np.ndarray:
        rows = self._shop_users.get(shop_id)
        if rows is None:
            rows = np.flatnonzero(self.artifacts.user_shops == shop_id)
            with self._lock:
                self._shop_users[shop_id] = rows
        return rows

    def user_feature_rows(self, features: list[str]) -> np.ndarray:
        """Vocabulary rows of the features training knew; unseen features are ignored."""
        return np.array(
            sorted({self.user_vocab[f] for f in features if f in self.user_vocab}), dtype=np.int64
        )

    def user_text(self, row: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(user_vocab rows, TF-IDF weights) of what the fan said, as of training; empty without text."""
        text = self.artifacts.user_text
        if row is None or text is None or row >= text.shape[0]:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        start, end = text.indptr[row], text.indptr[row + 1]
        return text.indices[start:end].astype(np.int64), text.data[start:end].astype(np.float32)

    def new_products(self, shop_id: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Products created after training (pk above every trained pk), with their known feature rows."""
        rows = list(
            Product.objects.filter(shop_id=shop_id, pk__gt=self.max_item_pk).values_list(
                "pk", "category", "brand", "price"
            )
        )
        missing = [r for r in rows if r[0] not in self._new_item_features]
        if missing:
            for pk, features in product_features(missing).items():
                self._new_item_features[pk] = sorted(
                    {self.item_vocab[f] for f in features if f in self.item_vocab}
                )
        pks = np.array([r[0] for r in rows], dtype=np.int64)
        return pks, [np.array(self._new_item_features[int(pk)], dtype=np.int64) for pk in pks]

    def shop_catalogue(self, shop_id: int, new_products_stamp: tuple[int, int]) -> ShopCatalogue:
        """The shop's candidate products, rebuilt only when its new-products stamp changes.

        The stamp is (count, max pk) of the shop's products created after training, read with the fan in
        `fan_serving_state`, so a product added or deleted since the last call is seen on the next one.
        """
        catalogue = self._shop_catalogues.get(shop_id)
        if catalogue is not None and catalogue.stamp == new_products_stamp:
            return catalogue
        item_rows = self.shop_items(shop_id)
        if new_products_stamp[0]:
            new_pks, new_features = self.new_products(shop_id)
        else:
            new_pks, new_features = np.array([], dtype=np.int64), []
        catalogue = ShopCatalogue(
            stamp=new_products_stamp,
            item_rows=item_rows,
            pks=np.concatenate([self.artifacts.item_pks[item_rows], new_pks]),
            new_features=new_features,
        )
        with self._lock:
            self._shop_catalogues[shop_id] = catalogue
        return catalogue

    def catalogue_blocks(
        self, catalogue: ShopCatalogue, model_key: str
    ) -> list[tuple[np.ndarray | GatherBlock, np.ndarray]]:
        """(V, ib) of every part of a model over the shop's candidates, built once per catalogue."""
        blocks = catalogue.blocks.get(model_key)
        if blocks is None:
            parts = self.artifacts.models[model_key]
            blocks = [
                (
                    GatherBlock(p.V, catalogue.item_rows, len(catalogue.new_features)),
                    np.concatenate(
                        [p.ib[catalogue.item_rows], np.zeros(len(catalogue.new_features), np.float32)]
                    ),
                )
                if p.sparse_user
                else self.item_block(p, catalogue.item_rows, catalogue.new_features)
                for p in parts
            ]
            with self._lock:
                catalogue.blocks[model_key] = blocks
        return blocks

    def shop_fans(self, shop_id: int, model_key: str) -> ShopFans:
        """The shop's trained fans with history, and each part's (U, ub) over them as contiguous blocks:
        built once per (shop, model), so ranking every fan for a product is one matrix-vector product."""
        key = (shop_id, model_key)
        cached = self._shop_fan_blocks.get(key)
        if cached is not None:
            return cached
        user_rows = self.shop_users(shop_id)
        known = self.artifacts.known_users[user_rows]
        known_rows, cold_rows = user_rows[known], user_rows[~known]
        blocks = []
        for p in self.artifacts.models[model_key]:
            U = p.U[known_rows]
            blocks.append(
                (U if sp.issparse(U) else np.ascontiguousarray(U), np.ascontiguousarray(p.ub[known_rows]))
            )
        shop_fans = ShopFans(
            known_pks=self.artifacts.user_pks[known_rows],
            cold_pks=self.artifacts.user_pks[cold_rows],
            blocks=blocks,
        )
        with self._lock:
            self._shop_fan_blocks[key] = shop_fans
        return shop_fans

    # Scores ---------------------------------------------------------------------------------------------

    def user_vectors(
        self,
        parts: list[Part],
        row: int | None,
        feature_rows: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        from_features: bool = False,
    ) -> list[tuple[np.ndarray | SparseRow, float]]:
        known = not from_features and row is not None and bool(self.artifacts.known_users[row])
        out: list[tuple[np.ndarray | SparseRow, float]] = []
        for p in parts:
            if p.sparse_user:
                # Item-item part: the fan's history row, read from the CSR table (nothing for a new fan).
                if known:
                    start, stop = p.U.indptr[row], p.U.indptr[row + 1]
                    history = SparseRow(p.U.indices[start:stop], p.U.data[start:stop])
                    out.append((history, float(p.ub[row])))
                else:
                    out.append((SparseRow(np.array([], np.int64), np.array([], np.float32)), 0.0))
            elif known:
                out.append((p.U[row], float(p.ub[row])))
            else:
                vector = _combine(p.UF[feature_rows], p.user_combine, weights)
                bias = p.user_cold_bias + float(
                    _combine(p.ubf[feature_rows][:, None], p.user_combine, weights)[0]
                )
                out.append((vector, bias))
        return out

    def item_block(
        self, p: Part, rows: np.ndarray, new_features: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        V, ib = p.V[rows], p.ib[rows]
        if new_features:
            cold_v = np.stack([_combine(p.VF[f], p.item_combine) for f in new_features])
            cold_b = np.array(
                [
                    p.item_cold_bias + float(_combine(p.ibf[f][:, None], p.item_combine)[0])
                    for f in new_features
                ],
                dtype=np.float32,
            )
            V, ib = np.vstack([V, cold_v]), np.concatenate([ib, cold_b])
        return V, ib


def combine_many(
    matrix: np.ndarray, rows: list[np.ndarray], mode: str, weights: list[np.ndarray] | None = None
) -> np.ndarray:
    """`_combine(matrix[r], mode, w)` for every r (and its weights w) in rows at once (one sparse product);
    without weights each feature counts 1. A 1-D matrix (a bias column) gives one value per row."""
    column = matrix.ndim == 1
    table = matrix[:, None] if column else matrix
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(rows).astype(np.int64) if int(indptr[-1]) else np.array([], dtype=np.int64)
    if weights is None:
        values = np.ones(len(indices), dtype=np.float32)
        counts = np.maximum(lengths, 1).astype(np.float32)
    else:
        values = (
            np.concatenate(weights).astype(np.float32) if int(indptr[-1]) else np.array([], dtype=np.float32)
        )
        counts = np.array([float(w.sum()) or 1.0 for w in weights], dtype=np.float32)
    select = sp.csr_matrix((values, indices, indptr), shape=(len(rows), table.shape[0]))
    total = np.asarray(select @ table, dtype=np.float32)
    if mode == "mean":
        total = total / counts[:, None]
    elif mode == "l2":
        norms = np.sqrt((total * total).sum(axis=1))
        total = total / np.where(norms > 0, norms, 1.0)[:, None].astype(np.float32)
    return total[:, 0] if column else total


@dataclass(frozen=True)
class ShopFans:
    """A shop's trained fans: those with training history (`known_pks`, rows of `blocks`) and those without."""

    known_pks: np.ndarray
    cold_pks: np.ndarray
    blocks: list[tuple[np.ndarray | sp.csr_matrix, np.ndarray]]


@dataclass
class ShopCatalogue:
    """One shop's candidates for picks: trained products (item_rows) first, then products new since training."""

    stamp: tuple[int, int]
    item_rows: np.ndarray
    pks: np.ndarray
    new_features: list[np.ndarray]
    blocks: dict[str, list[tuple[np.ndarray | GatherBlock, np.ndarray]]] = field(default_factory=dict)
