"""Serving: picks for a fan and fans for a product, from the serving model's precomputed factor tables.

The artifacts of the serving version are loaded once per process and kept until the serving version
changes (checked through a cache stamp that the switch sets after commit, falling back to the database).
Per regime the fan gets the ranker that won that regime in the serving version's evaluation:

- warm_users: the fan has history in the model (their learned row);
- cold_users: no history, but tags the model knows (a vector built from the fan's current tags);
- unknown: nothing known, popularity.

Products the fan pledged or bought are excluded, and so is anything unavailable (Product.is_available is
false, or the product has variants and none is available).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import get_language

from fans.models import Fan
from recommend.features import fan_features, product_features, tag_names
from recommend.models import STRONG_KINDS, Interaction, ModelVersion
from recommend.selectors import owned_product_ids
from recommend.training import Artifacts, Part, artifacts_dir, artifacts_read
from shops.models import Product, Variant

SERVING_STAMP_KEY = "recommend:serving_version"
NO_MODEL = "-"


@dataclass(frozen=True)
class Reason:
    zh: str
    en: str

    def __str__(self) -> str:
        return self.en if (get_language() or "zh-hans").startswith("en") else self.zh

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en, "text": str(self)}


POPULAR = Reason("本店热销", "popular in this shop")
SIMILAR_FANS = Reason("和你相似的粉丝认购过", "fans like you pledged")
ACTIVE_FAN = Reason("本店活跃粉丝", "an active fan of this shop")
SIMILAR_BUYERS = Reason("和这件商品的买家相似", "similar to this product's buyers")


def tag_reason(zh: str, en: str) -> Reason:
    return Reason(f"{zh}粉丝都在买", f"popular with {en} fans")


def match_reason(zh: str, en: str) -> Reason:
    return Reason(f"适合{zh}粉丝", f"suits {en} fans")


@dataclass(frozen=True)
class Pick:
    product: Product
    score: float
    reason: Reason
    ranker: str
    regime: str


@dataclass(frozen=True)
class FanPick:
    fan: Fan
    score: float
    reason: Reason
    ranker: str


# --- the loaded model ----------------------------------------------------------------------------------


def _combine(rows: np.ndarray, mode: str) -> np.ndarray:
    if rows.shape[0] == 0:
        return np.zeros(rows.shape[1], dtype=np.float32)
    total = rows.sum(axis=0)
    if mode == "mean":
        return total / rows.shape[0]
    if mode == "l2":
        norm = float(np.sqrt((total * total).sum()))
        return total / norm if norm else total
    return total


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
        self._new_item_features: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def regime(self, name: str) -> tuple[list[Part], str]:
        info = self.artifacts.regimes[name]
        return self.artifacts.models[info["model"]], info["name"]

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
        return np.array(sorted({self.user_vocab[f] for f in features if f in self.user_vocab}), dtype=np.int64)

    def new_products(self, shop_id: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Products created after training (pk above every trained pk), with their known feature rows."""
        rows = list(
            Product.objects.filter(shop_id=shop_id, pk__gt=self.max_item_pk).values_list("pk", "category", "brand", "price")
        )
        missing = [r for r in rows if r[0] not in self._new_item_features]
        if missing:
            for pk, features in product_features(missing).items():
                self._new_item_features[pk] = sorted({self.item_vocab[f] for f in features if f in self.item_vocab})
        pks = np.array([r[0] for r in rows], dtype=np.int64)
        return pks, [np.array(self._new_item_features[int(pk)], dtype=np.int64) for pk in pks]

    # Scores ---------------------------------------------------------------------------------------------

    def user_vectors(self, parts: list[Part], row: int | None, feature_rows: np.ndarray) -> list[tuple[np.ndarray, float]]:
        known = row is not None and bool(self.artifacts.known_users[row])
        out = []
        for p in parts:
            if known:
                out.append((p.U[row], float(p.ub[row])))
            else:
                vector = _combine(p.UF[feature_rows], p.user_combine)
                bias = p.user_cold_bias + float(_combine(p.ubf[feature_rows][:, None], p.user_combine)[0])
                out.append((vector, bias))
        return out

    def item_block(self, p: Part, rows: np.ndarray, new_features: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        V, ib = p.V[rows], p.ib[rows]
        if new_features:
            cold_v = np.stack([_combine(p.VF[f], p.item_combine) for f in new_features])
            cold_b = np.array(
                [p.item_cold_bias + float(_combine(p.ibf[f][:, None], p.item_combine)[0]) for f in new_features],
                dtype=np.float32,
            )
            V, ib = np.vstack([V, cold_v]), np.concatenate([ib, cold_b])
        return V, ib


_loaded: ServingModel | None = None
_loaded_stamp: str | None = None
_load_lock = threading.Lock()


def _serving_stamp() -> str:
    stamp = cache.get(SERVING_STAMP_KEY)
    if stamp is None:
        stamp = ModelVersion.objects.filter(is_serving=True).values_list("version", flat=True).first() or NO_MODEL
        cache.set(SERVING_STAMP_KEY, stamp, 60)
    return stamp


def serving_model() -> ServingModel | None:
    """The serving model, loaded once per process and reloaded when the serving version changes."""
    global _loaded, _loaded_stamp
    stamp = _serving_stamp()
    if stamp == _loaded_stamp:
        return _loaded
    with _load_lock:
        if stamp != _loaded_stamp:
            path = Path(artifacts_dir()) / stamp
            _loaded = ServingModel(artifacts_read(path)) if stamp != NO_MODEL and path.exists() else None
            _loaded_stamp = stamp
    return _loaded


def serving_reset() -> None:
    """Forget the loaded model (tests; after deleting artifacts)."""
    global _loaded, _loaded_stamp
    with _load_lock:
        _loaded, _loaded_stamp = None, None
    cache.delete(SERVING_STAMP_KEY)


# Product fields a pick carries (loading every column costs more than the scoring).
PICK_FIELDS = ("pk", "shop_id", "name", "category", "brand", "price", "currency", "image", "is_available")
_names: dict[str, tuple[str, str] | None] = {}


def cached_tag_names(features: list[str]) -> dict[str, tuple[str, str]]:
    """Tag display names, cached per process (tag names change rarely; a restart picks up renames)."""
    missing = [f for f in features if f not in _names]
    if missing:
        found = tag_names(missing)
        for feature in missing:
            _names[feature] = found.get(feature)
    return {f: _names[f] for f in features if _names.get(f)}  # type: ignore[misc]


# --- availability --------------------------------------------------------------------------------------


def available_products(pks: list[int]) -> dict[int, Product]:
    has_variant = Variant.objects.filter(product=OuterRef("pk"))
    has_available_variant = Variant.objects.filter(product=OuterRef("pk"), is_available=True)
    qs = (
        Product.objects.filter(pk__in=pks, is_available=True)
        .filter(~Exists(has_variant) | Exists(has_available_variant))
        .only(*PICK_FIELDS)
    )
    return {p.pk: p for p in qs}


# --- picks for a fan -----------------------------------------------------------------------------------


def recommend_for_fan(fan: Fan, k: int = 5) -> list[Pick]:
    """Top-k products of the fan's shop for this fan, each with a reason (see module docstring)."""
    k = max(1, min(int(k), 100))
    model = serving_model()
    owned = owned_product_ids(fan.pk)
    if model is None:
        return _popular_fallback(fan, k, owned)
    tags = fan_features([fan.pk]).get(fan.pk, [])
    feature_rows = model.user_feature_rows(tags)
    row = model.user_row(fan.pk)
    if row is not None and model.artifacts.known_users[row]:
        regime = "warm_users"
    elif len(feature_rows):
        regime = "cold_users"
    else:
        regime = "unknown"
    parts, ranker_name = model.regime(regime)
    item_rows = model.shop_items(fan.shop_id)
    new_pks, new_features = model.new_products(fan.shop_id)
    pks = np.concatenate([model.artifacts.item_pks[item_rows], new_pks])
    if len(pks) == 0:
        return []
    scores = np.zeros(len(pks), dtype=np.float32)
    for p, (vector, bias) in zip(parts, model.user_vectors(parts, row, feature_rows), strict=True):
        V, ib = model.item_block(p, item_rows, new_features)
        scores += p.scale * (V @ vector + ib + bias)

    chosen: list[tuple[int, int]] = []  # (position, pk)
    products: dict[int, Product] = {}
    order = np.argsort(-scores, kind="stable")
    start, chunk = 0, max(3 * k, 20)
    while len(chosen) < k and start < len(order):
        batch = [(int(pos), int(pks[pos])) for pos in order[start : start + chunk] if int(pks[pos]) not in owned]
        start += chunk
        chunk *= 2
        found = available_products([pk for _, pk in batch])
        products.update(found)
        chosen.extend((pos, pk) for pos, pk in batch if pk in found)
    chosen = chosen[:k]
    reasons = _fan_reasons(model, regime, ranker_name, tags, [pos for pos, _ in chosen], item_rows, new_features)
    return [
        Pick(product=products[pk], score=float(scores[pos]), reason=reason, ranker=ranker_name, regime=regime)
        for (pos, pk), reason in zip(chosen, reasons, strict=True)
    ]


def _fan_reasons(
    model: ServingModel,
    regime: str,
    ranker_name: str,
    tags: list[str],
    positions: list[int],
    item_rows: np.ndarray,
    new_features: list[np.ndarray],
) -> list[Reason]:
    if regime == "unknown" or ranker_name in ("popularity", "content") or model.popularity_only:
        return [POPULAR] * len(positions)
    known_tags = [t for t in tags if t in model.user_vocab]
    if not known_tags:
        return [SIMILAR_FANS] * len(positions)
    names = cached_tag_names(known_tags)
    explain, _ = model.regime("explain")
    lift_part = explain[0]
    tag_cols = np.array([model.user_vocab[t] for t in known_tags], dtype=np.int64)
    n_trained = len(item_rows)
    reasons = []
    for pos in positions:
        if pos < n_trained:
            lifts = lift_part.V[item_rows[pos], tag_cols]
            best = int(np.argmax(lifts))
            if lifts[best] > 0.05 and known_tags[best] in names:
                reasons.append(tag_reason(*names[known_tags[best]]))
                continue
        else:
            features = {model.artifacts.item_vocab[f] for f in new_features[pos - n_trained]}
            shared = [t for t in known_tags if t in features and t in names]
            if shared:
                reasons.append(match_reason(*names[shared[0]]))
                continue
        reasons.append(SIMILAR_FANS if regime == "warm_users" or "lightfm" in ranker_name else POPULAR)
    return reasons


def _popular_fallback(fan: Fan, k: int, owned: set[int]) -> list[Pick]:
    """No model yet: the shop's products by number of pledges and purchases, newest first on ties."""
    from django.db.models import Count

    qs = (
        Product.objects.filter(shop_id=fan.shop_id)
        .exclude(pk__in=owned)
        .annotate(n=Count("interactions", filter=Q(interactions__kind__in=STRONG_KINDS)))
        .order_by("-n", "-pk")
        .values_list("pk", "n")[: max(5 * k, 50)]
    )
    ranked = list(qs)
    found = available_products([pk for pk, _ in ranked])
    return [
        Pick(product=found[pk], score=float(n), reason=POPULAR, ranker="popularity", regime="no_model")
        for pk, n in ranked
        if pk in found
    ][:k]


# --- fans for a product --------------------------------------------------------------------------------


def fans_for_product(product: Product, k: int = 50) -> list[FanPick]:
    """The shop's fans most likely to take a (new) product: the cold-items ranker, through item features.

    Leaves out fans who already pledged or bought it, and fans who opted out of promotions.
    """
    k = max(1, min(int(k), 1000))
    model = serving_model()
    exclude = set(
        Interaction.objects.filter(product=product, kind__in=STRONG_KINDS).values_list("fan_id", flat=True)
    ) | set(Fan.objects.filter(shop_id=product.shop_id, promotions_opt_out=True).values_list("pk", flat=True))
    if model is None:
        return _active_fans_fallback(product, k, exclude)
    parts, ranker_name = model.regime("cold_items")
    item_row = _item_row(model, product.pk)
    item_features: np.ndarray = np.array([], dtype=np.int64)
    if item_row is None:
        features = product_features([(product.pk, product.category, product.brand, product.price)])[product.pk]
        item_features = np.array(sorted({model.item_vocab[f] for f in features if f in model.item_vocab}), dtype=np.int64)
    user_rows = model.shop_users(product.shop_id)
    fan_pks = model.artifacts.user_pks[user_rows]
    known = model.artifacts.known_users[user_rows]
    new_fans = list(Fan.objects.filter(shop_id=product.shop_id, pk__gt=model.max_user_pk).values_list("pk", flat=True))
    cold_pks = np.concatenate([fan_pks[~known], np.array(new_fans, dtype=np.int64)])
    cold_tags = fan_features(cold_pks.tolist()) if len(cold_pks) else {}
    scores_known = np.zeros(int(known.sum()), dtype=np.float32)
    scores_cold = np.zeros(len(cold_pks), dtype=np.float32)
    cold_rows = [model.user_feature_rows(cold_tags.get(int(pk), [])) for pk in cold_pks]
    for p in parts:
        if item_row is not None:
            v, b = p.V[item_row], float(p.ib[item_row])
        else:
            v = _combine(p.VF[item_features], p.item_combine)
            b = p.item_cold_bias + float(_combine(p.ibf[item_features][:, None], p.item_combine)[0])
        known_rows = user_rows[known]
        scores_known += p.scale * (p.U[known_rows] @ v + p.ub[known_rows] + b)
        if len(cold_pks):
            UC = np.stack([_combine(p.UF[r], p.user_combine) for r in cold_rows])
            bc = np.array(
                [p.user_cold_bias + float(_combine(p.ubf[r][:, None], p.user_combine)[0]) for r in cold_rows],
                dtype=np.float32,
            )
            scores_cold += p.scale * (UC @ v + bc + b)
    all_pks = np.concatenate([fan_pks[known], cold_pks])
    all_scores = np.concatenate([scores_known, scores_cold])
    n_known = len(scores_known)
    picked: list[tuple[int, int]] = []
    for pos in np.argsort(-all_scores, kind="stable"):
        pk = int(all_pks[pos])
        if pk in exclude:
            continue
        picked.append((int(pos), pk))
        if len(picked) >= k:
            break
    fans = Fan.objects.in_bulk([pk for _, pk in picked])
    product_feats = set(
        product_features([(product.pk, product.category, product.brand, product.price)])[product.pk]
    )
    fan_tags = fan_features([pk for _, pk in picked])
    names = tag_names({t for tags in fan_tags.values() for t in tags if t in product_feats})
    out = []
    for pos, pk in picked:
        if pk not in fans:
            continue
        shared = [t for t in fan_tags.get(pk, []) if t in product_feats and t in names]
        if shared:
            reason = match_reason(*names[shared[0]])
        elif pos < n_known and "popularity" != ranker_name:
            reason = SIMILAR_BUYERS
        else:
            reason = ACTIVE_FAN
        out.append(FanPick(fan=fans[pk], score=float(all_scores[pos]), reason=reason, ranker=ranker_name))
    return out


def _item_row(model: ServingModel, product_pk: int) -> int | None:
    rows = np.flatnonzero(model.artifacts.item_pks == product_pk)
    return int(rows[0]) if len(rows) else None


def _active_fans_fallback(product: Product, k: int, exclude: set[int]) -> list[FanPick]:
    from django.db.models import Count

    fans = (
        Fan.objects.filter(shop_id=product.shop_id)
        .exclude(pk__in=exclude)
        .annotate(n=Count("interactions"))
        .order_by("-n", "-pledge_count", "pk")[:k]
    )
    return [FanPick(fan=f, score=float(f.n), reason=ACTIVE_FAN, ranker="popularity") for f in fans]


def picks_as_json(picks: list[Pick]) -> list[dict[str, Any]]:
    return [
        {
            "product": {
                "id": p.product.pk,
                "name": p.product.name,
                "price": str(p.product.price),
                "currency": p.product.currency,
                "image": p.product.image.url if p.product.image else "",
                "category": p.product.category,
            },
            "score": round(p.score, 4),
            "reason": p.reason.as_dict(),
            "ranker": p.ranker,
            "regime": p.regime,
        }
        for p in picks
    ]

