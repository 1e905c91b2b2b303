"""Training for serving: the catalogue from the database, the served rankers as factor tables, artifacts.

Every ranker the evaluation can serve scores as a sum of "parts"; a part is a factorised model

    score(u, i) = scale * (U[u] . V[i] + ub[u] + ib[i])

and also says how to build U/ub for a fan, or V/ib for a product, that training never saw, from features
(UF/VF rows combined by sum, mean or L2-normalised sum). Serving then needs only numpy arrays: no
LightFM object, no pickles. `factorize` is checked against `Ranker.score` in tests.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.conf import settings

from recommend.data import Catalog, Interactions, TrainSet
from recommend.rankers import (
    RANKING_LOSSES,
    ALSRanker,
    BlendRanker,
    ContentRanker,
    ItemItemRanker,
    LightFMRanker,
    PopularityRanker,
    Ranker,
    TagPopularityRanker,
)

ARTIFACT_FORMAT = 1
META_FILE = "meta.json"
ARRAYS_FILE = "arrays.npz"


def artifacts_dir() -> Path:
    """FANSI_RECOMMEND_DIR (environment or setting), default BASE_DIR/var/models."""
    configured = os.environ.get("FANSI_RECOMMEND_DIR") or getattr(settings, "FANSI_RECOMMEND_DIR", None)
    return Path(configured) if configured else Path(settings.BASE_DIR) / "var" / "models"


@dataclass
class Part:
    scale: float
    U: np.ndarray
    ub: np.ndarray
    V: np.ndarray
    ib: np.ndarray
    UF: np.ndarray
    ubf: np.ndarray
    VF: np.ndarray
    ibf: np.ndarray
    user_combine: str = "mean"  # sum | mean
    item_combine: str = "mean"  # sum | mean | l2
    user_cold_bias: float = 0.0
    item_cold_bias: float = 0.0
    kind: str = ""

    ARRAYS = ("U", "ub", "V", "ib", "UF", "ubf", "VF", "ibf")

    @property
    def sparse_user(self) -> bool:
        """U is a sparse fans x products history (item-item parts): V's columns are products, not factors."""
        return sp.issparse(self.U)

    def meta(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "user_combine": self.user_combine,
            "item_combine": self.item_combine,
            "user_cold_bias": self.user_cold_bias,
            "item_cold_bias": self.item_cold_bias,
            "kind": self.kind,
        }


def _f32(array: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.float32))


def factorize(ranker: Ranker, train: TrainSet) -> list[Part]:
    """The ranker as factor parts (exactly the same scores up to a constant per call)."""
    nu, ni = train.n_users, train.n_items
    vu, vi = len(train.user_vocab), len(train.item_vocab)
    zeros = np.zeros
    if isinstance(ranker, BlendRanker):
        (_, std_a), (_, std_b) = ranker.stats
        parts = [_scaled(p, 1.0 / std_a) for p in factorize(ranker.base, train)]
        if ranker.weight:
            parts += [_scaled(p, ranker.weight / std_b) for p in factorize(ranker.other, train)]
        return parts
    if isinstance(ranker, LightFMRanker) and ranker.fallback is not None:
        ranker = ranker.fallback
    if isinstance(ranker, PopularityRanker):
        return [
            Part(
                1.0,
                zeros((nu, 0)),
                _f32(ranker.user_term),
                zeros((ni, 0)),
                _f32(ranker.item_term),
                zeros((vu, 0)),
                zeros(vu),
                zeros((vi, 0)),
                zeros(vi),
                "sum",
                "sum",
                kind="popularity",
            )
        ]
    if isinstance(ranker, TagPopularityRanker):
        n_known = max(int(train.known_users.sum()), 1)
        return [
            Part(
                1.0,
                _f32(train.user_tags.toarray()),
                zeros(nu),
                _f32(ranker.lift.T),
                _f32(ranker.log_item),
                np.eye(vu, dtype=np.float32),
                zeros(vu),
                zeros((vi, vu)),
                zeros(vi),
                "sum",
                "sum",
                item_cold_bias=float(np.log(0.5 / (n_known + 1.0))),
                kind="tag_popularity",
            )
        ]
    if isinstance(ranker, ContentRanker):
        features = train.item_tags[train.known_items]
        doc_freq = np.asarray((features > 0).sum(axis=0)).ravel()
        idf = np.log((1.0 + features.shape[0]) / (1.0 + doc_freq)) + 1.0
        return [
            Part(
                1.0,
                _f32(ranker.user_profiles.toarray()),
                zeros(nu),
                _f32(ranker.item_vectors.toarray()),
                zeros(ni),
                zeros((vu, vi)),
                zeros(vu),
                _f32(np.diag(idf)),
                zeros(vi),
                "sum",
                "l2",
                kind="content",
            )
        ]
    if isinstance(ranker, LightFMRanker):
        cfg, model = ranker.config, ranker.model
        d = cfg.no_components
        # A ranking loss learns no bias on the side it ranks for (fans; products when transposed).
        ranking = cfg.loss in RANKING_LOSSES
        no_user_bias = ranking and ranker.ranked_side == "item"
        no_item_bias = ranking and ranker.ranked_side == "user"
        if cfg.features:
            u_off = nu if cfg.user_identity else 0
            i_off = ni if cfg.item_identity else 0
            user_emb, user_bias = model.user_embeddings, model.user_biases
            item_emb, item_bias = model.item_embeddings, model.item_biases
            if cfg.transpose:
                user_emb, user_bias, item_emb, item_bias = item_emb, item_bias, user_emb, user_bias
            UF, ubf = user_emb[u_off:], user_bias[u_off:]
            VF, ibf = item_emb[i_off:], item_bias[i_off:]
        else:
            UF, ubf, VF, ibf = zeros((vu, d)), zeros(vu), zeros((vi, d)), zeros(vi)
        return [
            Part(
                1.0,
                _f32(ranker.user_vectors),
                zeros(nu) if no_user_bias else _f32(ranker.user_bias),
                _f32(ranker.item_vectors),
                zeros(ni) if no_item_bias else _f32(ranker.item_bias),
                _f32(UF),
                zeros(vu) if no_user_bias else _f32(ubf),
                _f32(VF),
                zeros(vi) if no_item_bias else _f32(ibf),
                "mean",
                "mean",
                kind=ranker.name,
            )
        ]
    if isinstance(ranker, ALSRanker):
        # A fan or product without history has a zero vector: nothing to build from features.
        k = ranker.factors
        return [
            Part(1.0, _f32(ranker.user_vectors), zeros(nu), _f32(ranker.item_vectors), zeros(ni),
                 zeros((vu, k)), zeros(vu), zeros((vi, k)), zeros(vi), "sum", "sum", kind="als")
        ]  # fmt: skip
    if isinstance(ranker, ItemItemRanker):
        # EASE / item-kNN: U is the fan's (binary) history, V the item-item weights: U[u] . V[i] = sum_h B[h, i].
        # U stays sparse (fans x products, a few dozen non-zeros per fan: 1M interactions are ~8 MB, where a
        # dense table would be 2 GB at 100k x 5k); serving multiplies the fan's row on the fly. V is dense,
        # products x products float32: 100 MB at 5k products, the bounded cost of serving an item-item model.
        weights = ranker.weights.toarray() if sp.issparse(ranker.weights) else ranker.weights
        # A fan with no history (and a new product) scores 0: nothing to build from features.
        return [
            Part(1.0, sp.csr_matrix(ranker.history, dtype=np.float32), zeros(nu), _f32(np.asarray(weights).T),
                 zeros(ni), zeros((vu, ni)), zeros(vu), zeros((vi, ni)), zeros(vi), "sum", "sum", kind=ranker.name)
        ]  # fmt: skip
    raise TypeError(f"cannot factorise {type(ranker).__name__}")


def pad_user_features(parts: list[Part], n_features: int) -> list[Part]:
    """Parts fitted on a smaller user vocabulary (tags only), given zero rows for the features after it (text),
    so every model of a version shares one user vocabulary."""
    for p in parts:
        extra = n_features - p.UF.shape[0]
        if extra > 0:
            p.UF = np.vstack([p.UF, np.zeros((extra, p.UF.shape[1]), dtype=np.float32)])
            p.ubf = np.concatenate([p.ubf, np.zeros(extra, dtype=np.float32)])
    return parts


def _scaled(part: Part, factor: float) -> Part:
    part.scale *= factor
    return part


def factor_scores(parts: list[Part], users: np.ndarray, items: np.ndarray) -> np.ndarray:
    total = np.zeros((len(users), len(items)), dtype=np.float32)
    for p in parts:
        total += p.scale * (
            np.asarray(p.U[users] @ p.V[items].T) + p.ub[users][:, None] + p.ib[items][None, :]
        )
    return total


# --- catalogue subsampling for bounded evaluation ------------------------------------------------------


def catalog_sample(catalog: Catalog, max_users: int, *, seed: int = 0) -> Catalog:
    """Keep at most `max_users` fans with interactions (and all products), re-indexed."""
    users = catalog.interactions.user_set()
    if len(users) <= max_users:
        return catalog
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(users, size=max_users, replace=False))
    new_index = np.full(catalog.n_users, -1, dtype=np.int64)
    new_index[keep] = np.arange(len(keep))
    mask = new_index[catalog.interactions.users] >= 0
    inter = catalog.interactions
    return Catalog(
        user_ids=[catalog.user_ids[u] for u in keep],
        item_ids=catalog.item_ids,
        interactions=Interactions(
            users=new_index[inter.users[mask]].astype(np.int32),
            items=inter.items[mask].copy(),
            weights=inter.weights[mask].copy(),
            n_users=len(keep),
            n_items=inter.n_items,
        ),
        user_tags=[catalog.user_tags[u] for u in keep],
        item_tags=catalog.item_tags,
        has_weights=catalog.has_weights,
        user_docs=None if catalog.user_docs is None else tuple(catalog.user_docs[u] for u in keep),
    )


# --- artifacts -----------------------------------------------------------------------------------------


@dataclass
class Artifacts:
    """What serving loads: per model key the parts, per regime the model key and ranker name."""

    version: str
    user_pks: np.ndarray  # fan pk per catalogue row
    user_shops: np.ndarray
    known_users: np.ndarray  # bool: had training interactions
    item_pks: np.ndarray
    item_shops: np.ndarray
    user_vocab: list[str]
    item_vocab: list[str]
    models: dict[str, list[Part]]
    regimes: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    # Per fan row, the text features (columns of user_vocab, TF-IDF weights) from the fan's chat at training
    # time; None when no fan had text. The vocabulary and IDF are extra["text"] (recommend.text.TextModel).
    user_text: sp.csr_matrix | None = None


def artifacts_write(artifacts: Artifacts, root: Path) -> Path:
    """Write into a temporary folder and rename it into place, so a version folder is complete or absent."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / artifacts.version
    tmp = root / f".{artifacts.version}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    arrays: dict[str, np.ndarray] = {
        "user_pks": artifacts.user_pks,
        "user_shops": artifacts.user_shops,
        "known_users": artifacts.known_users,
        "item_pks": artifacts.item_pks,
        "item_shops": artifacts.item_shops,
    }
    if artifacts.user_text is not None:
        text = sp.csr_matrix(artifacts.user_text)
        arrays["user_text_indptr"] = text.indptr.astype(np.int64)
        arrays["user_text_indices"] = text.indices.astype(np.int64)
        arrays["user_text_data"] = text.data.astype(np.float32)
    models_meta: dict[str, list[dict[str, Any]]] = {}
    for key, parts in artifacts.models.items():
        models_meta[key] = []
        for n, part in enumerate(parts):
            models_meta[key].append(part.meta())
            for name in Part.ARRAYS:
                value = getattr(part, name)
                if sp.issparse(value):
                    csr = sp.csr_matrix(value, dtype=np.float32)
                    arrays[f"{key}__{n}__{name}__data"] = _f32(csr.data)
                    arrays[f"{key}__{n}__{name}__indices"] = csr.indices.astype(np.int32)
                    arrays[f"{key}__{n}__{name}__indptr"] = csr.indptr.astype(np.int64)
                    arrays[f"{key}__{n}__{name}__shape"] = np.array(csr.shape, dtype=np.int64)
                else:
                    arrays[f"{key}__{n}__{name}"] = _f32(value)
    np.savez(tmp / ARRAYS_FILE, **arrays)
    meta = {
        "format": ARTIFACT_FORMAT,
        "version": artifacts.version,
        "user_vocab": artifacts.user_vocab,
        "item_vocab": artifacts.item_vocab,
        "models": models_meta,
        "regimes": artifacts.regimes,
        "extra": artifacts.extra,
        "complete": True,
    }
    # meta.json last: its presence with complete=true marks the folder usable.
    (tmp / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def artifacts_complete(path: Path) -> bool:
    try:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(meta.get("complete")) and (path / ARRAYS_FILE).exists()


def _array(arrays: dict[str, np.ndarray], name: str) -> np.ndarray | sp.csr_matrix:
    """A dense array, or a CSR matrix written as its data/indices/indptr/shape (artifacts_write)."""
    if name in arrays:
        return arrays[name]
    shape = tuple(int(n) for n in arrays[f"{name}__shape"])
    return sp.csr_matrix(
        (arrays[f"{name}__data"], arrays[f"{name}__indices"], arrays[f"{name}__indptr"]), shape=shape
    )


def artifacts_read(path: Path) -> Artifacts:
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    with np.load(path / ARRAYS_FILE) as data:
        arrays = {name: data[name] for name in data.files}
    models: dict[str, list[Part]] = {}
    for key, parts_meta in meta["models"].items():
        models[key] = [
            Part(
                scale=pm["scale"],
                user_combine=pm["user_combine"],
                item_combine=pm["item_combine"],
                user_cold_bias=pm["user_cold_bias"],
                item_cold_bias=pm["item_cold_bias"],
                kind=pm["kind"],
                **{name: _array(arrays, f"{key}__{n}__{name}") for name in Part.ARRAYS},
            )
            for n, pm in enumerate(parts_meta)
        ]
    return Artifacts(
        version=meta["version"],
        user_pks=arrays["user_pks"].astype(np.int64),
        user_shops=arrays["user_shops"].astype(np.int64),
        known_users=arrays["known_users"].astype(bool),
        item_pks=arrays["item_pks"].astype(np.int64),
        item_shops=arrays["item_shops"].astype(np.int64),
        user_vocab=meta["user_vocab"],
        item_vocab=meta["item_vocab"],
        models=models,
        regimes=meta["regimes"],
        extra=meta.get("extra", {}),
        user_text=(
            sp.csr_matrix(
                (arrays["user_text_data"], arrays["user_text_indices"], arrays["user_text_indptr"]),
                shape=(len(arrays["user_pks"]), len(meta["user_vocab"])),
            )
            if "user_text_indptr" in arrays
            else None
        ),
    )
