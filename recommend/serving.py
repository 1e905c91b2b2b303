"""Serving: picks for a fan and fans for a product, from the serving model's precomputed factor tables.

The artifacts of the serving version are loaded once per process and kept until the serving version
changes (`serving_model` checks a cache stamp that the switch sets after commit, falling back to the
database; `recommend_for_fan` reads the serving version in its own first statement).
Per regime the fan gets the ranker that won that regime in the serving version's evaluation:

- warm_users: the fan has history in the model (their learned row);
- cold_users: no history, but tags the model knows (a vector built from the fan's current tags);
- unknown: nothing known, popularity.

Products the fan pledged or bought are excluded, and so is anything unavailable (Product.is_available is
false, or the product has variants and none is available).

Hot path: `recommend_for_fan` runs two plain-SQL statements (recommend.selectors), because compiling an ORM
query costs more than running it. Nothing the database says about a fan or a product is cached between
calls except what cannot go stale unnoticed: each shop's candidate list is rebuilt when its new-products
stamp (count and max pk of products created after training, read with the fan) changes, and tag names live
for TAG_CACHE_SECONDS. Availability is always read fresh for the top candidates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Q
from django.utils.translation import get_language

from fans.chat.models import Fan
from recommend.features import fan_features, product_features, tag_names
from recommend.models import STRONG_KINDS, Interaction, ModelVersion
from recommend.selectors import PickProduct, fan_serving_state, products_available, tag_vocabulary
from recommend.training import Artifacts, Part, artifacts_dir, artifacts_read
from shops.models import Product

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
    product: PickProduct
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
        self._shop_catalogues: dict[int, ShopCatalogue] = {}
        self._new_item_features: dict[int, list[int]] = {}
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
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(V, ib) of every part of a model over the shop's candidates, built once per catalogue."""
        blocks = catalogue.blocks.get(model_key)
        if blocks is None:
            parts = self.artifacts.models[model_key]
            blocks = [self.item_block(p, catalogue.item_rows, catalogue.new_features) for p in parts]
            with self._lock:
                catalogue.blocks[model_key] = blocks
        return blocks

    # Scores ---------------------------------------------------------------------------------------------

    def user_vectors(
        self, parts: list[Part], row: int | None, feature_rows: np.ndarray
    ) -> list[tuple[np.ndarray, float]]:
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


@dataclass
class ShopCatalogue:
    """One shop's candidates for picks: trained products (item_rows) first, then products new since training."""

    stamp: tuple[int, int]
    item_rows: np.ndarray
    pks: np.ndarray
    new_features: list[np.ndarray]
    blocks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)


# (serving version, its model), swapped as one tuple so readers never pair a stamp with another model.
_loaded: tuple[str, ServingModel | None] | None = None
_load_lock = threading.Lock()


def _serving_stamp() -> str:
    stamp = cache.get(SERVING_STAMP_KEY)
    if stamp is None:
        stamp = (
            ModelVersion.objects.filter(is_serving=True).values_list("version", flat=True).first() or NO_MODEL
        )
        cache.set(SERVING_STAMP_KEY, stamp, 60)
    return stamp


def _serving_load(stamp: str) -> tuple[str, ServingModel | None]:
    """(stamp, model) for this serving version, loading its artifacts unless already loaded."""
    global _loaded
    current = _loaded
    if current is not None and current[0] == stamp:
        return current
    with _load_lock:
        if _loaded is None or _loaded[0] != stamp:
            path = Path(artifacts_dir()) / stamp
            _loaded = (
                stamp,
                ServingModel(artifacts_read(path)) if stamp != NO_MODEL and path.exists() else None,
            )
        return _loaded


def serving_model() -> ServingModel | None:
    """The serving model, loaded once per process and reloaded when the serving version changes."""
    return _serving_load(_serving_stamp())[1]


def serving_reset() -> None:
    """Forget the loaded model (tests; after deleting artifacts)."""
    global _loaded
    with _load_lock:
        _loaded = None
    cache.delete(SERVING_STAMP_KEY)
    tags_reset()


# Tag vocabulary (id -> feature string and display names), cached per process: Fan.tag_ids holds ids, and
# tags are renamed rarely, so a rename reaches picks within TAG_CACHE_SECONDS.
TAG_CACHE_SECONDS = 300.0
_tags: dict[int, tuple[str, str, str] | None] = {}
_tags_loaded_at = 0.0
_tags_lock = threading.Lock()


def tags_by_id(tag_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """{tag id: (feature, name_zh, name_en)}; asks the database only for ids not seen in TAG_CACHE_SECONDS."""
    global _tags_loaded_at
    now = time.monotonic()
    if now - _tags_loaded_at > TAG_CACHE_SECONDS:
        with _tags_lock:
            _tags.clear()
            _tags_loaded_at = now
    missing = [t for t in tag_ids if t not in _tags]
    if missing:
        found = tag_vocabulary(missing)
        with _tags_lock:
            for tag_id in missing:
                _tags[tag_id] = found.get(tag_id)
    return {t: _tags[t] for t in tag_ids if _tags.get(t)}  # type: ignore[misc]


def tags_reset() -> None:
    global _tags_loaded_at
    with _tags_lock:
        _tags.clear()
        _tags_loaded_at = 0.0


# --- picks for a fan -----------------------------------------------------------------------------------


def recommend_for_fan(fan: Fan, k: int = 5) -> list[Pick]:
    """Top-k products of the fan's shop for this fan, each with a reason (see module docstring).

    Two plain-SQL statements per call (the fan's tags, owned products and new-products stamp; availability
    and display fields of the top candidates), a third only if most top candidates are owned or sold out.
    """
    k = max(1, min(int(k), 100))
    stamp, model = _loaded or _serving_load(_serving_stamp())
    state = fan_serving_state(fan.pk, fan.shop_id, after_pk=model.max_item_pk if model is not None else None)
    if state.serving_version is not None and state.serving_version != stamp:
        # The database names another serving version (a switch since the last call): load it, read again.
        stamp, model = _serving_load(state.serving_version)
        state = fan_serving_state(
            fan.pk, fan.shop_id, after_pk=model.max_item_pk if model is not None else None
        )
    owned = state.owned
    if model is None:
        return _popular_fallback(fan, k, owned)
    vocab = tags_by_id(state.tag_ids)
    tags = [vocab[t][0] for t in state.tag_ids if t in vocab]
    names = {feature: (zh, en) for feature, zh, en in vocab.values()}
    feature_rows = model.user_feature_rows(tags)
    row = model.user_row(fan.pk)
    if row is not None and model.artifacts.known_users[row]:
        regime = "warm_users"
    elif len(feature_rows):
        regime = "cold_users"
    else:
        regime = "unknown"
    parts, ranker_name = model.regime(regime)
    catalogue = model.shop_catalogue(fan.shop_id, state.new_products_stamp)
    pks = catalogue.pks
    if len(pks) == 0:
        return []
    scores = np.zeros(len(pks), dtype=np.float32)
    blocks = model.catalogue_blocks(catalogue, model.regime_model(regime))
    for p, (vector, bias), (V, ib) in zip(
        parts, model.user_vectors(parts, row, feature_rows), blocks, strict=True
    ):
        scores += p.scale * (V @ vector + ib + bias)

    chosen: list[tuple[int, int]] = []  # (position, pk)
    products: dict[int, PickProduct] = {}
    # Only the head of the ranking is looked at: sort just enough for the first chunk of unowned products.
    chunk = max(3 * k, 20)
    order = _top(scores, min(len(pks), chunk + len(owned)))
    start = 0
    while len(chosen) < k:
        batch: list[tuple[int, int]] = []
        while len(batch) < chunk and start < len(pks):
            if start >= len(order):
                order = np.argsort(-scores, kind="stable")
            pos = int(order[start])
            start += 1
            if int(pks[pos]) not in owned:
                batch.append((pos, int(pks[pos])))
        if not batch:
            break
        chunk *= 2
        found = products_available([pk for _, pk in batch])
        products.update(found)
        chosen.extend((pos, pk) for pos, pk in batch if pk in found)
    chosen = chosen[:k]
    reasons = _fan_reasons(model, regime, ranker_name, tags, names, [pos for pos, _ in chosen], catalogue)
    return [
        Pick(product=products[pk], score=float(scores[pos]), reason=reason, ranker=ranker_name, regime=regime)
        for (pos, pk), reason in zip(chosen, reasons, strict=True)
    ]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n best scores, best first, ties in position order (as a stable full sort)."""
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(-scores, n - 1)[n - 1]
    # Everything tied with the n-th score comes along, so the stable order of the head matches a full sort.
    candidates = np.flatnonzero(-scores <= threshold)
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def _fan_reasons(
    model: ServingModel,
    regime: str,
    ranker_name: str,
    tags: list[str],
    names: dict[str, tuple[str, str]],
    positions: list[int],
    catalogue: ShopCatalogue,
) -> list[Reason]:
    if regime == "unknown" or ranker_name in ("popularity", "content") or model.popularity_only:
        return [POPULAR] * len(positions)
    known_tags = [t for t in tags if t in model.user_vocab]
    if not known_tags:
        return [SIMILAR_FANS] * len(positions)
    explain, _ = model.regime("explain")
    lift_part = explain[0]
    tag_cols = np.array([model.user_vocab[t] for t in known_tags], dtype=np.int64)
    item_rows = catalogue.item_rows
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
            features = {model.artifacts.item_vocab[f] for f in catalogue.new_features[pos - n_trained]}
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
    found = products_available([pk for pk, _ in ranked])
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
        features = product_features([(product.pk, product.category, product.brand, product.price)])[
            product.pk
        ]
        item_features = np.array(
            sorted({model.item_vocab[f] for f in features if f in model.item_vocab}), dtype=np.int64
        )
    user_rows = model.shop_users(product.shop_id)
    fan_pks = model.artifacts.user_pks[user_rows]
    known = model.artifacts.known_users[user_rows]
    new_fans = list(
        Fan.objects.filter(shop_id=product.shop_id, pk__gt=model.max_user_pk).values_list("pk", flat=True)
    )
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
                "image": p.product.image_url,
                "category": p.product.category,
            },
            "score": round(p.score, 4),
            "reason": p.reason.as_dict(),
            "ranker": p.ranker,
            "regime": p.regime,
        }
        for p in picks
    ]
