"""Fans for a product: the shop's fans most likely to take it (the cold-items ranker), with reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import Q

from fans.chat.models import Fan
from recommend.features import product_features
from recommend.models import STRONG_KINDS, Interaction
from recommend.selectors import product_serving_state
from recommend.serving.fan_picks import _top
from recommend.serving.live_text import live_text
from recommend.serving.loading import serving_model, tags_by_id
from recommend.serving.model import ServingModel, _combine, combine_many, one_blas_thread
from recommend.serving.reasons import (
    ACTIVE_FAN,
    SHOP_FAN,
    SIMILAR_BUYERS,
    Reason,
    fan_said_reason,
    match_reason,
)
from recommend.serving.truth import fan_activity
from recommend.text import feature_label
from shops.models import Product
from shops.ratings import product_statuses

# The head of the fans' ranking read per statement: k plus this margin (or k/5) for opt-outs; it doubles while
# opt-outs leave fewer than k. Loading Fan rows is most of a call's CPU: read few beyond k.
HEAD_CHUNK = 10


@dataclass(frozen=True)
class FanPick:
    fan: Fan
    score: float
    reason: Reason
    ranker: str


def fans_for_product(product: Product, k: int = 50) -> list[FanPick]:
    """The shop's fans most likely to take a (new) product: the cold-items ranker, through item features.

    Leaves out fans who already pledged or bought it, and fans who opted out of promotions. A product on
    红黑榜's black list gets no fans to invite.

    Fans without history who said something in chat (the last 90 days, fan-sent only; read now for the
    shop's most recent talkers since training, recommend.serving.live_text) are scored as the chat_users
    regime serves them, when the model serves it (`_chat_scores`), and the reason says what they mentioned
    when the product's name or description contains it.

    Cost: the shop's trained fans' factor blocks are built once per model (ServingModel.shop_fans), so every
    fan's score is one matrix-vector product; the product's 红黑榜 status, its buyers and the tag ids of the
    fans without training history are one plain-SQL statement (selectors.product_serving_state), and those
    fans are combined from their tags in one sparse product; only the head of the ranking is sorted
    (argpartition), and opt-outs are checked for the head only, in the statement that loads those fans, whose
    Fan.tag_ids give the reasons. Live text costs two plain-SQL statements, and one more matrix-vector
    product over the shop's fans with history when chat fans are scored.
    """
    k = max(1, min(int(k), 1000))
    model = serving_model()
    if model is None:
        if product_statuses([product.pk]).get(product.pk) == "black":
            return []
        buyers = set(
            Interaction.objects.filter(product=product, kind__in=STRONG_KINDS).values_list(
                "fan_id", flat=True
            )
        )
        return _active_fans_fallback(product, k, buyers | _opted_out(product.shop_id))
    shop_fans = model.shop_fans(product.shop_id, model.regime_model("cold_items"))
    state = product_serving_state(
        product.pk, product.shop_id, cold_fan_ids=shop_fans.cold_pks.tolist(), after_pk=model.max_user_pk
    )
    if state.status == "black":
        return []
    buyers = state.buyers
    parts, ranker_name = model.regime("cold_items")
    item_row = _item_row(model, product.pk)
    features = product_features([(product.pk, product.category, product.brand, product.price)])[product.pk]
    item_features: np.ndarray = np.array([], dtype=np.int64)
    if item_row is None:
        item_features = np.array(
            sorted({model.item_vocab[f] for f in features if f in model.item_vocab}), dtype=np.int64
        )
    new_fans = sorted(pk for pk in state.cold_fans if pk > model.max_user_pk)
    cold_pks = np.concatenate([shop_fans.cold_pks, np.array(new_fans, dtype=np.int64)])
    cold_rows = _cold_feature_rows(model, cold_pks, state.cold_fans)
    # What fans without history said: now for the shop's recent talkers (live), as of training for the rest.
    live = live_text(model) if len(cold_pks) else None
    said = live.for_shop_talkers(product.shop_id, shop_fans.known_pks) if live is not None else {}
    with one_blas_thread():
        scores_known, scores_cold = _scores(
            model, parts, shop_fans.blocks, item_row, item_features, cold_rows
        )
        if "chat_users" in model.artifacts.regimes and len(cold_pks):
            _chat_scores(model, product.shop_id, item_row, item_features, cold_pks, cold_rows, said,
                         scores_known, scores_cold)  # fmt: skip
    all_pks = np.concatenate([shop_fans.known_pks, cold_pks])
    all_scores = np.concatenate([scores_known, scores_cold])
    n_known = len(scores_known)
    picked, fans = _head(product.shop_id, all_pks, all_scores, buyers, k)
    return _with_reasons(model, product, picked, fans, all_scores, n_known, set(features), said, bool(buyers),
                         ranker_name)  # fmt: skip


def _with_reasons(
    model: ServingModel,
    product: Product,
    picked: list[tuple[int, int]],
    fans: dict[int, Fan],
    scores: np.ndarray,
    n_known: int,
    product_feats: set[str],
    said: dict[int, tuple[np.ndarray, np.ndarray]],
    has_buyers: bool,
    ranker_name: str,
) -> list[FanPick]:
    """Each reason only when true for the pair (recommend.serving.truth). The fans' tags are their
    Fan.tag_ids (read with the Fan rows), named through the per-process tag cache (tags_by_id)."""
    vocab = tags_by_id(sorted({int(t) for _, pk in picked for t in fans[pk].tag_ids or ()}))
    product_text = f"{product.name} {product.description}".lower()
    reasons: list[Reason | None] = []
    for pos, pk in picked:
        shared = [
            vocab[t] for t in map(int, fans[pk].tag_ids or ()) if t in vocab and vocab[t][0] in product_feats
        ]
        word = _said_about(model, said.get(pk) or model.user_text(model.user_row(pk)), product_text)
        if shared:
            reasons.append(match_reason(shared[0][1], shared[0][2]))
        elif word:
            reasons.append(fan_said_reason(word))
        elif pos < n_known and "popularity" != ranker_name and has_buyers:
            reasons.append(SIMILAR_BUYERS)
        else:
            reasons.append(None)  # active fan or not: read below, for these fans only
    active = fan_activity(pk for (_, pk), reason in zip(picked, reasons, strict=True) if reason is None)
    return [
        FanPick(
            fan=fans[pk],
            score=float(scores[pos]),
            reason=reason or (ACTIVE_FAN if pk in active else SHOP_FAN),
            ranker=ranker_name,
        )
        for (pos, pk), reason in zip(picked, reasons, strict=True)
    ]


def _cold_feature_rows(
    model: ServingModel, cold_pks: np.ndarray, tags_of: dict[int, list[int]]
) -> list[np.ndarray]:
    """Each fan's user feature rows from their tag ids (model.user_feature_rows of their tags' features)."""
    tag_lists = [tags_of.get(pk, ()) for pk in cold_pks.tolist()]
    vocab = tags_by_id(sorted({t for tags in tag_lists for t in tags}))
    row_of = {t: model.user_vocab[f] for t, (f, _zh, _en) in vocab.items() if f in model.user_vocab}
    return [np.array(sorted({row_of[t] for t in tags if t in row_of}), dtype=np.int64) for tags in tag_lists]


def _opted_out(shop_id: int) -> set[int]:
    return set(
        Fan.objects.filter(shop_id=shop_id)
        .filter(Q(promotions_opt_out=True) | Q(personalisation_opt_out=True))
        .values_list("pk", flat=True)
    )


def _head(
    shop_id: int, pks: np.ndarray, scores: np.ndarray, buyers: set[int], k: int
) -> tuple[list[tuple[int, int]], dict[int, Fan]]:
    """The k best-scored fans who did not take the product and did not opt out of promotions or of
    personalisation (/me/privacy/), in the order of a stable full sort: (position, pk) and the Fan rows.

    Only the head is sorted; the opt-outs are read with the head's Fan rows (a pk lookup), chunk by chunk,
    instead of listing every opted-out fan of the shop on each call.
    """
    if buyers:
        taken = np.isin(pks, np.fromiter(buyers, dtype=np.int64, count=len(buyers)))
        positions = np.flatnonzero(~taken)
    else:
        positions = np.arange(len(pks))
    candidate_scores = scores[positions]
    chunk = k + max(HEAD_CHUNK, k // 5)
    order = _top(candidate_scores, min(len(positions), chunk))
    picked: list[tuple[int, int]] = []
    fans: dict[int, Fan] = {}
    start = 0
    while len(picked) < k and start < len(positions):
        if start + chunk > len(order):
            order = _top(candidate_scores, min(len(positions), start + chunk))
        batch = [(int(positions[i]), int(pks[positions[i]])) for i in order[start : start + chunk]]
        start += len(batch)
        found = Fan.objects.filter(
            shop_id=shop_id,
            pk__in=[pk for _, pk in batch],
            promotions_opt_out=False,
            personalisation_opt_out=False,
        ).in_bulk()
        fans.update(found)
        picked.extend((pos, pk) for pos, pk in batch if pk in found)
        chunk *= 2
    return picked[:k], fans


def _said_about(model: ServingModel, text: tuple[np.ndarray, np.ndarray], product_text: str) -> str:
    """A word the fan said in chat (now for recent talkers, else as of training) that the product's name or
    description contains; the heaviest such word (TF-IDF), or ""."""
    cols, weights = text
    best, best_weight = "", 0.0
    for col, weight in zip(cols.tolist(), weights.tolist(), strict=True):
        label = feature_label(model.artifacts.user_vocab[col])
        if label and len(label) > 1 and label in product_text and weight > best_weight:
            best, best_weight = label, weight
    return best


def _scores(
    model: ServingModel,
    parts: list,
    blocks: list,
    item_row: int | None,
    item_features: np.ndarray,
    cold_rows: list[np.ndarray],
    cold_weights: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One model's scores of the product for the shop's fans with history (`blocks`, ServingModel.shop_fans)
    and for fans known by features (`cold_rows`, with their weights: tags 1, text TF-IDF)."""
    n_known = len(blocks[0][1]) if blocks else 0
    scores_known = np.zeros(n_known, dtype=np.float32)
    scores_cold = np.zeros(len(cold_rows), dtype=np.float32)
    for p, (U_known, ub_known) in zip(parts, blocks, strict=True):
        if item_row is not None:
            v, b = p.V[item_row], float(p.ib[item_row])
        else:
            v = _combine(p.VF[item_features], p.item_combine)
            b = p.item_cold_bias + float(_combine(p.ibf[item_features][:, None], p.item_combine)[0])
        scores_known += p.scale * (np.asarray(U_known @ v).ravel() + ub_known + b)
        if cold_rows:
            UC = combine_many(p.UF, cold_rows, p.user_combine, cold_weights)
            bc = p.user_cold_bias + combine_many(p.ubf, cold_rows, p.user_combine, cold_weights)
            scores_cold += p.scale * (UC @ v + bc + b)
    return scores_known, scores_cold


def _chat_scores(
    model: ServingModel,
    shop_id: int,
    item_row: int | None,
    item_features: np.ndarray,
    cold_pks: np.ndarray,
    cold_rows: list[np.ndarray],
    said: dict[int, tuple[np.ndarray, np.ndarray]],
    scores_known: np.ndarray,
    scores_cold: np.ndarray,
) -> None:
    """What fans without history said moves their scores (in place in `scores_cold`) as the chat_users
    recipe sees it: by the chat model's score with their tags and text (text weighted as in training) minus
    its score with their tags alone, so a fan who said nothing keeps their tags-only score.

    The two models' scores are on different scales: the difference is scaled by the ratio of their spreads
    (standard deviations) over the shop's fans with history, whom both models score; with fewer than two
    such fans, or no spread, it is taken as it is. A recipe that cannot score a product new since training
    through its features (tag popularity, say) scores it alike with and without text: it moves nobody.
    """
    text_at: list[int] = []
    rows: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for index, pk in enumerate(cold_pks.tolist()):
        text_rows, text_weights = said.get(pk) or model.user_text(model.user_row(pk))
        if len(text_rows):
            text_at.append(index)
            rows.append(np.concatenate([cold_rows[index], text_rows]))
            weights.append(np.concatenate([np.ones(len(cold_rows[index]), np.float32), text_weights]))
    if not text_at:
        return
    tags_only = [cold_rows[index] for index in text_at]
    tags_weights = [np.ones(len(r), np.float32) for r in tags_only]
    chat_parts, _ = model.regime("chat_users")
    chat_fans = model.shop_fans(shop_id, model.regime_model("chat_users"))
    chat_known, chat_cold = _scores(
        model, chat_parts, chat_fans.blocks, item_row, item_features, rows + tags_only, weights + tags_weights
    )
    scale = 1.0
    spread = float(chat_known.std()) if len(chat_known) >= 2 else 0.0
    # A spread at float noise (every fan with history scored alike) says nothing about the scale.
    if len(scores_known) == len(chat_known) and spread > 1e-6 * max(1.0, abs(float(chat_known.mean()))):
        scale = float(scores_known.std()) / spread
    n = len(text_at)
    scores_cold[np.array(text_at, dtype=np.int64)] += scale * (chat_cold[:n] - chat_cold[n:])


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
    return [
        FanPick(fan=f, score=float(f.n), reason=ACTIVE_FAN if f.n else SHOP_FAN, ranker="popularity")
        for f in fans
    ]
