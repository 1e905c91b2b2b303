"""Picks for a fan: the shop's products ranked by the regime's ranker, owned and unavailable ones left out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Q

from fans.chat.models import Fan
from recommend.models import STRONG_KINDS
from recommend.selectors import PickProduct, fan_serving_state, products_available
from recommend.serving import loading
from recommend.serving.live_text import EMPTY, live_text
from recommend.serving.loading import tags_by_id
from recommend.serving.model import ServingModel, ShopCatalogue, one_blas_thread
from recommend.serving.reasons import (
    FOR_YOU,
    POPULAR,
    RED_LIST,
    SIMILAR_FANS,
    Reason,
    match_reason,
    said_reason,
    tag_reason,
)
from recommend.serving.truth import pick_facts
from recommend.text import feature_label
from shops.models import Product


@dataclass(frozen=True)
class Pick:
    product: PickProduct
    score: float
    reason: Reason
    ranker: str
    regime: str
    listed: str = ""  # "red" when 红黑榜 boosted it (black products are never picked)


def recommend_for_fan(fan: Fan, k: int = 5) -> list[Pick]:
    """Top-k products of the fan's shop for this fan, each with a reason (see recommend.serving).

    Three plain-SQL statements per call (the fan's tags, owned products and new-products stamp; availability
    and display fields of the top candidates; the facts behind each reason, recommend.serving.truth), one
    more only if most top candidates are owned or sold out, and one more for a fan without history when the
    model serves chat fans: what they said in chat up to now (recommend.serving.live_text).
    """
    k = max(1, min(int(k), 100))
    # Through the module: `_loaded` is rebound on every load, so an imported name would go stale.
    stamp, model = loading._loaded or loading._serving_load(loading._serving_stamp())
    state = fan_serving_state(fan.pk, fan.shop_id, after_pk=model.max_item_pk if model is not None else None)
    if state.serving_version is not None and state.serving_version != stamp:
        # The database names another serving version (a switch since the last call): load it, read again.
        stamp, model = loading._serving_load(state.serving_version)
        state = fan_serving_state(
            fan.pk, fan.shop_id, after_pk=model.max_item_pk if model is not None else None
        )
    # 红黑榜: black products are left out like owned ones; red ones get a bounded boost below.
    black = {pk for pk, status in state.listed.items() if status == "black"}
    red = {pk for pk, status in state.listed.items() if status == "red"}
    owned = state.owned | black
    if model is None:
        return _mark_red(_popular_fallback(fan, k, owned), red)
    # A fan who opted out of personalisation (/me/privacy/) gets the shop's best sellers: no tags, history or chat.
    opted_out = bool(getattr(fan, "personalisation_opt_out", False))
    vocab = {} if opted_out else tags_by_id(state.tag_ids)
    tags = [vocab[t][0] for t in state.tag_ids if t in vocab]
    names = {feature: (zh, en) for feature, zh, en in vocab.values()}
    feature_rows = model.user_feature_rows(tags)
    weights = None
    row = model.user_row(fan.pk)
    warm = row is not None and bool(model.artifacts.known_users[row])
    text_rows, text_weights = EMPTY
    if not opted_out and not warm and "chat_users" in model.artifacts.regimes:
        # What the fan said up to now (not as of training: they may have first chatted, or joined, since).
        live = live_text(model)
        if live is not None:
            text_rows, text_weights = live.for_fan(fan.pk)
    if opted_out:
        regime = "unknown"
    elif warm:
        regime = "warm_users"
    elif len(text_rows):
        # Known by tags and what they said: the chat recipe, text features weighted as in training.
        regime = "chat_users"
        weights = np.concatenate([np.ones(len(feature_rows), dtype=np.float32), text_weights])
        feature_rows = np.concatenate([feature_rows, text_rows])
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
    with one_blas_thread():
        for p, (vector, bias), (V, ib) in zip(
            parts, model.user_vectors(parts, row, feature_rows, weights), blocks, strict=True
        ):
            scores += p.scale * (V @ vector + ib + bias)
    if red:
        _boost_red(scores, pks, red)

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
    tag_ids = {feature: tag_id for tag_id, (feature, _zh, _en) in vocab.items()}
    reasons = _fan_reasons(model, regime, ranker_name, tags, names, chosen, catalogue, products, tag_ids)
    if regime == "chat_users":
        reasons = _chat_reasons(
            model, parts, feature_rows, weights, len(text_rows), chosen, catalogue, reasons
        )
    return [
        Pick(
            product=products[pk],
            score=float(scores[pos]),
            reason=reason,
            ranker=ranker_name,
            regime=regime,
            listed="red" if pk in red else "",
        )
        for (pos, pk), reason in zip(chosen, reasons, strict=True)
    ]


def _boost_red(scores: np.ndarray, pks: np.ndarray, red: set[int]) -> None:
    """Raise red products by at most RED_BOOST of the catalogue's score range (bounded: never to the top
    unless they were already close)."""
    mask = np.isin(pks, np.fromiter(red, dtype=np.int64, count=len(red)))
    if not mask.any() or len(scores) < 2:
        return
    span = float(scores.max() - scores.min())
    scores[mask] += float(settings.FANSI_RATINGS["RED_BOOST"]) * span


def _mark_red(picks: list[Pick], red: set[int]) -> list[Pick]:
    return [replace(p, listed="red") if p.product.pk in red else p for p in picks]


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
    chosen: list[tuple[int, int]],
    catalogue: ShopCatalogue,
    products: dict[int, PickProduct],
    tag_ids: dict[str, int],
) -> list[Reason]:
    """One reason per pick, each true for that pair (recommend.serving.truth checks what it claims)."""
    pks = [pk for _, pk in chosen]
    by_popularity = regime == "unknown" or ranker_name in ("popularity", "content") or model.popularity_only
    known_tags = [] if by_popularity else [t for t in tags if t in model.user_vocab]
    # One statement: who bought each pick, and which of the fan's tags truly "都在买" it. Tag facts only
    # when a tag reason can be shown: they are most of the statement's time (an EXISTS per tag and pick
    # over the pick's buyers), and a popularity pick never uses them.
    wanted = [tag_ids[t] for t in known_tags if t in tag_ids]
    buyers, bought = pick_facts(wanted, {pk: products[pk].category for pk in pks})

    def plain(pk: int) -> Reason:
        if not buyers.get(pk):
            return FOR_YOU  # nobody has taken it yet: neither "popular" nor "fans like you pledged"
        if not by_popularity and (regime == "warm_users" or "lightfm" in ranker_name):
            return SIMILAR_FANS
        return POPULAR

    if by_popularity or not known_tags:
        return [plain(pk) for pk in pks]
    explain, _ = model.regime("explain")
    lift_part = explain[0]
    tag_cols = np.array([model.user_vocab[t] for t in known_tags], dtype=np.int64)
    item_rows = catalogue.item_rows
    n_trained = len(item_rows)
    reasons = []
    for pos, pk in chosen:
        reason = None
        if pos < n_trained:
            lifts = lift_part.V[item_rows[pos], tag_cols]
            for i in np.argsort(-lifts, kind="stable"):
                tag = known_tags[int(i)]
                if lifts[i] <= 0.05:
                    break
                if tag in names and (tag_ids.get(tag), pk) in bought:
                    reason = tag_reason(*names[tag])
                    break
        else:
            features = {model.artifacts.item_vocab[f] for f in catalogue.new_features[pos - n_trained]}
            # The product itself is tagged for these fans (its ProductTags): "suits X fans" is its own claim.
            shared = [t for t in known_tags if t in features and t in names]
            if shared:
                reason = match_reason(*names[shared[0]])
        reasons.append(reason or plain(pk))
    return reasons


def _chat_reasons(
    model: ServingModel,
    parts: list,
    feature_rows: np.ndarray,
    weights: np.ndarray | None,
    n_text: int,
    chosen: list[tuple[int, int]],
    catalogue: ShopCatalogue,
    reasons: list[Reason],
) -> list[Reason]:
    """ "You mentioned X in chat" where a word the fan said adds the most to the pick's score (more than any
    of their tags, and above zero): the pick then comes from what they said. Other picks keep their reason."""
    if weights is None or not n_text:
        return reasons
    n_tags = len(feature_rows) - n_text
    total_weight = float(weights.sum()) or 1.0
    blocks = model.catalogue_blocks(catalogue, model.regime_model("chat_users"))
    out = []
    for (pos, _pk), reason in zip(chosen, reasons, strict=True):
        contribution = np.zeros(len(feature_rows), dtype=np.float32)
        for p, (V, _ib) in zip(parts, blocks, strict=True):
            per_feature = p.UF[feature_rows] @ V[pos]
            divisor = total_weight if p.user_combine == "mean" else 1.0
            contribution += p.scale * weights * per_feature / divisor
        best_tag = float(contribution[:n_tags].max()) if n_tags else 0.0
        said = None
        for i in np.argsort(-contribution[n_tags:], kind="stable"):
            value = float(contribution[n_tags + int(i)])
            if value <= max(best_tag, 0.0):
                break
            label = feature_label(model.artifacts.user_vocab[int(feature_rows[n_tags + int(i)])])
            if label:
                said = label
                break
        out.append(said_reason(said) if said else reason)
    return out


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
        Pick(
            product=found[pk],
            score=float(n),
            reason=POPULAR if n else FOR_YOU,
            ranker="popularity",
            regime="no_model",
        )
        for pk, n in ranked
        if pk in found
    ][:k]


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
            "reasons": [p.reason.as_dict()] + ([RED_LIST.as_dict()] if p.listed == "red" else []),
            "listed": p.listed,
            "ranker": p.ranker,
            "regime": p.regime,
        }
        for p in picks
    ]
