"""Plain-language figures for the model page: the platform-wide offline evaluation in words a shop owner
reads, and each shop's own figures from its own data (what the model learned from it, and what happened to
the recommendations it sent since the model went live)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import get_language

from fans.chat.models import Fan, Message, MessageKind
from recommend.evaluation import SELECTION_METRIC
from recommend.models import STRONG_KINDS, Interaction, ModelVersion
from shops.models import Product, Shop

# A card counts as taken when the fan pledges or buys its product within this long after it was sent.
TAKEN_WITHIN = dt.timedelta(days=14)
CARDS_MEASURED = 2000

RANKER_WORDS = {
    "served": ("Fansi 当前推荐", "Fansi's recommendations"),
    "popularity": ("按全店热销排序", "Best sellers of the shop"),
    "tag_popularity": ("按同标签粉丝的热销排序", "Best sellers among fans with the same tags"),
    "content": ("按商品标签匹配", "Matching the product's tags"),
    "random": ("随机", "At random"),
}
METRIC_WORDS = {
    "precision_at_k": (
        "前 10 个推荐中，粉丝之后真的认购的比例",
        "Of the top 10 picks, the share fans went on to take",
    ),
    "auc": ("会买的粉丝排在不会买的粉丝前面的概率", "The chance a fan who buys ranks above one who does not"),
}
REGIME_WORDS = {
    "warm_users": ("老粉丝（有认购记录）", "Fans with history"),
    "cold_users": ("只有标签的新粉丝", "New fans known by tags"),
    "cold_items": ("新品：邀请哪些粉丝", "New products: which fans to invite"),
    "chat_users": ("聊过天的新粉丝（标签和聊天内容）", "New fans known by tags and what they said in chat"),
}


def _words(pair: tuple[str, str]) -> str:
    return pair[1] if (get_language() or "zh-hans").startswith("en") else pair[0]


# chat_users rows that are neither a baseline nor the served ranker.
CHAT_WORDS = {
    "served_tags_only": ("同样的方法，不用聊天内容", "The same, without what fans said"),
    "served_text_candidate": ("用上聊天内容的最佳方法", "The best method with what fans said"),
}


def ranker_words(name: str) -> str:
    if name in RANKER_WORDS:
        return _words(RANKER_WORDS[name])
    if name in CHAT_WORDS:
        return _words(CHAT_WORDS[name])
    if "lightfm" in name:
        return _words(("从认购记录中学习的模型", "A model learned from pledges"))
    return _words(("其他方法", "Another method"))


def regime_chart(version: ModelVersion) -> list[dict[str, Any]]:
    """Per regime: one bar per method on the figure that chooses what is served, and a sentence comparing
    the served method with the best simple one; exact figures stay in `rows` for the details toggle."""
    out = []
    for regime, rankers in (version.metrics or {}).items():
        metric = SELECTION_METRIC.get(regime, "auc")
        rows = []
        for name, values in rankers.items():
            value = values.get(metric)
            rows.append(
                {
                    "name": ranker_words(name),
                    "code": f"served: {values.get('served_name')}" if name == "served" else name,
                    "value": value,
                    "percent": None if value is None else round(100 * value, 1),
                    "served": name == "served",
                    "figures": {k: v for k, v in values.items() if isinstance(v, int | float)},
                }
            )
        top = max([r["value"] for r in rows if r["value"] is not None] or [1.0]) or 1.0
        for n, row in enumerate(rows):
            row["width"] = round(300 * (row["value"] or 0) / top, 1)
            row["y"] = n * 26
        served = next((r for r in rows if r["served"] and r["value"] is not None), None)
        baselines = [
            r for r in rows if not r["served"] and r["value"] is not None and r["code"] in RANKER_WORDS
        ]
        best = max(baselines, key=lambda r: r["value"], default=None)
        out.append(
            {
                "regime": regime,
                "label": _words(REGIME_WORDS.get(regime, (regime, regime))),
                "metric": _words(METRIC_WORDS.get(metric, (metric, metric))),
                "metric_code": metric,
                "rows": rows,
                "height": len(rows) * 26,
                "served": (version.served or {}).get(regime, {}),
                "served_words": ranker_words((version.served or {}).get(regime, {}).get("name", "")),
                "summary": _summary(served, best),
            }
        )
    return out


def _summary(served: dict | None, best: dict | None) -> str:
    if served is None or best is None:
        return _words(("数据还不够，无法比较。", "Not enough data to compare yet."))
    gain = served["value"] - best["value"]
    if best["value"] > 0 and gain / best["value"] > 0.02:
        times = served["value"] / best["value"]
        zh = (
            f"比「{best['name']}」好 {times:.1f} 倍。"
            if times >= 1.5
            else f"比「{best['name']}」好 {100 * gain / best['value']:.0f}%。"
        )
        en = (
            f"{times:.1f}× as good as “{best['name']}”."
            if times >= 1.5
            else f"{100 * gain / best['value']:.0f}% better than “{best['name']}”."
        )
        return _words((zh, en))
    return _words(
        (
            f"和「{best['name']}」差不多，所以直接用简单方法。",
            f"About as good as “{best['name']}”, so the simple method is used.",
        )
    )


def shop_model_figures(shop: Shop, version: ModelVersion | None) -> dict[str, Any]:
    """This shop's own figures: its data, what the serving model learned from it, and its recommendations'
    outcome since the model went live (recommendation cards against the product cards staff chose)."""
    live_since = (version.started_at or version.created_at) if version else None
    strong = Interaction.objects.filter(shop=shop, kind__in=STRONG_KINDS)
    figures: dict[str, Any] = {
        "fans": Fan.objects.filter(shop=shop).count(),
        "products": Product.objects.filter(shop=shop).count(),
        "learned": strong.filter(created_at__lt=live_since).count() if live_since else 0,
        "live_since": live_since,
    }
    cards = (
        list(
            Message.objects.filter(
                conversation__shop=shop, kind=MessageKind.PRODUCT_CARD, created_at__gte=live_since
            )
            .order_by("-created_at")
            .values_list("conversation__fan_id", "payload", "created_at")[:CARDS_MEASURED]
        )
        if live_since
        else []
    )
    taken: dict[tuple[int, int], list[Any]] = {}
    if cards:
        fan_ids = {fan_id for fan_id, _p, _t in cards}
        for fan_id, product_id, at in strong.filter(
            fan_id__in=fan_ids, created_at__gte=live_since
        ).values_list("fan_id", "product_id", "created_at"):
            taken.setdefault((fan_id, product_id), []).append(at)
    groups = {"recommended": [0, 0], "chosen": [0, 0]}
    for fan_id, payload, at in cards:
        product_id = (payload or {}).get("product")
        group = groups["recommended" if (payload or {}).get("reason") else "chosen"]
        group[0] += 1
        if any(at <= t <= at + TAKEN_WITHIN for t in taken.get((fan_id, product_id), [])):
            group[1] += 1
    for key, (sent, hits) in groups.items():
        figures[key] = {"sent": sent, "taken": hits, "percent": round(100 * hits / sent, 1) if sent else None}
    return figures
