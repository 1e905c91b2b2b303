"""Feature strings shared by training and serving: fans and products meet in one vocabulary.

Fan features are their tags, written "group:tag" for the platform vocabulary and "shop<id>.group:tag" for a
shop's private groups. Product features are "category:<c>", "brand:<b>", "price_band:<low|mid|high>" and
the product's tags in the fan vocabulary ("suits oily skin" is skin_type:oily).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import F, Max
from django.utils import timezone

from fans.chat.models import Message, MessageKind, Side
from fans.crm.models import FanTag, Tag
from recommend.models import ProductTag
from recommend.text import document

# What a fan said becomes features: their own text messages of the last CHAT_DAYS days, at most
# CHAT_MAX_MESSAGES (the newest) per fan, so a talkative fan costs training a bounded amount.
CHAT_DAYS = 90
CHAT_MAX_MESSAGES = 50
# And at most this many messages in all (the newest): tokenising costs 0.2-0.45 ms a message (jieba most of
# it; measured on the 2 shared cores), so a training run spends at most 10-25 s on chat at any size.
CHAT_MAX_TOTAL_MESSAGES = 50_000

# Fixed price bands (CNY), so a product created after training gets the same feature it would have had.
PRICE_BANDS: tuple[tuple[Decimal, str], ...] = ((Decimal("100"), "low"), (Decimal("300"), "mid"))


def price_band(price: Decimal | float | None) -> str:
    value = Decimal(str(price or 0))
    for limit, name in PRICE_BANDS:
        if value < limit:
            return name
    return "high"


def tag_feature(group_code: str, tag_code: str, group_shop_id: int | None) -> str:
    prefix = f"shop{group_shop_id}." if group_shop_id else ""
    return f"{prefix}{group_code}:{tag_code}"


def fan_features(fan_ids: Iterable[int]) -> dict[int, list[str]]:
    """Current tags of each fan, as feature strings."""
    ids = list(fan_ids)
    out: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return out
    rows = FanTag.objects.filter(fan_id__in=ids).values_list(
        "fan_id", "tag__group__code", "tag__code", "tag__group__shop_id"
    )
    for fan_id, group, code, shop_id in rows:
        out[fan_id].append(tag_feature(group, code, shop_id))
    return out


def _fan_text_messages(now: dt.datetime | None):
    """The messages that count as what fans said (see fan_documents), of every fan."""
    since = (now or timezone.now()) - dt.timedelta(days=CHAT_DAYS)
    return Message.objects.filter(
        side=Side.FAN,
        kind=MessageKind.TEXT,
        created_at__gte=since,
        sender_id=F("conversation__fan__user_id"),
        conversation__fan__personalisation_opt_out=False,
    ).exclude(text="")


def fan_messages(fan_ids: Iterable[int] | None, *, now: dt.datetime | None = None) -> dict[int, list[str]]:
    """The texts fan_documents reads, newest first, per fan: one statement."""
    messages = _fan_text_messages(now)
    limit = CHAT_MAX_TOTAL_MESSAGES
    if fan_ids is not None:
        ids = list(fan_ids)
        if not ids:
            return {}
        messages = messages.filter(conversation__fan_id__in=ids)
        limit = min(limit, CHAT_MAX_MESSAGES * len(ids))
    texts: dict[int, list[str]] = defaultdict(list)
    rows = messages.order_by("-created_at", "-pk").values_list("conversation__fan_id", "text")
    for fan_id, text in rows[:limit].iterator(chunk_size=20_000):
        if len(texts[fan_id]) < CHAT_MAX_MESSAGES:
            texts[fan_id].append(text)
    return dict(texts)


def fan_documents(
    fan_ids: Iterable[int] | None, rules: dict[str, str], *, now: dt.datetime | None = None
) -> dict[int, Counter[str]]:
    """Term counts (recommend.text) of what each fan said: fan-sent text messages only (never staff, bot,
    system or broadcast messages, and only those the fan's own account sent), from the last CHAT_DAYS days,
    the newest CHAT_MAX_MESSAGES per fan and CHAT_MAX_TOTAL_MESSAGES in all. Fans who opted out of
    personalisation have none. `fan_ids` None: every fan. Serving reads the same messages (fan_messages)
    and counts their terms the same way (recommend.serving.live_text)."""
    return {
        fan_id: doc
        for fan_id, items in fan_messages(fan_ids, now=now).items()
        if (doc := document(items, rules))
    }


def fan_talkers(
    shop_id: int, *, since: dt.datetime | None, limit: int, now: dt.datetime | None = None
) -> list[int]:
    """The shop's fans who said something that counts (fan_documents) after `since` (None: in the last
    CHAT_DAYS days), the most recent talker first, at most `limit`: one statement."""
    messages = _fan_text_messages(now).filter(conversation__fan__shop_id=shop_id)
    if since is not None:
        messages = messages.filter(created_at__gt=since)
    rows = (
        messages.values("conversation__fan_id")
        .annotate(last=Max("created_at"))
        .order_by("-last", "-conversation__fan_id")
        .values_list("conversation__fan_id", flat=True)[:limit]
    )
    return list(rows)


def product_features(rows: Iterable[tuple[int, str, str, Decimal]]) -> dict[int, list[str]]:
    """Features of products given (id, category, brand, price) rows, plus their ProductTags."""
    out: dict[int, list[str]] = {}
    for product_id, category, brand, price in rows:
        features = [f"category:{category}", f"price_band:{price_band(price)}"]
        brand_key = re.sub(r"\s+", "_", (brand or "").strip().lower())
        if brand_key:
            features.append(f"brand:{brand_key}")
        out[product_id] = features
    if out:
        tags = ProductTag.objects.filter(product_id__in=list(out)).values_list(
            "product_id", "tag__group__code", "tag__code", "tag__group__shop_id"
        )
        for product_id, group, code, shop_id in tags:
            out[product_id].append(tag_feature(group, code, shop_id))
    return out


def tag_names(features: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(zh, en) display names of tag features; features that are not tags are left out."""
    wanted: dict[tuple[int | None, str, str], str] = {}
    for feature in features:
        shop_part, _, rest = feature.rpartition(".") if feature.startswith("shop") else ("", "", feature)
        group, sep, code = rest.partition(":")
        if not sep or group in ("category", "brand", "price_band"):
            continue
        shop_id = int(shop_part[4:]) if shop_part[4:].isdigit() else None
        wanted[(shop_id, group, code)] = feature
    if not wanted:
        return {}
    rows = Tag.objects.filter(
        group__code__in={g for _, g, _ in wanted}, code__in={c for _, _, c in wanted}
    ).values_list("group__shop_id", "group__code", "code", "name_zh", "name_en")
    return {
        wanted[(shop_id, group, code)]: (zh, en)
        for shop_id, group, code, zh, en in rows
        if (shop_id, group, code) in wanted
    }
