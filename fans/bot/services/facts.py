"""The bot's per-shop settings and the cached facts the hot path reads."""

import contextlib
import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from core.errors import UNAVAILABLE_ERRORS
from fans.bot.models import (
    BotSettings,
    FaqRule,
    PhraseRule,
)
from shops.models import Shop, ShopMember


def bot_settings_get(shop: Shop) -> BotSettings:
    settings_obj, _created = BotSettings.objects.get_or_create(shop=shop)
    return settings_obj


LOCAL_TTL_S = 30.0


_local: dict[tuple[str, int], tuple[float, Any]] = {}


def _local_cached(kind: str, shop_id: int, load: Any) -> Any:
    """Per-process cache for what the send path reads on every fan message (changes show within 30 s)."""
    key = (kind, shop_id)
    hit = _local.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    _local[key] = (now + LOCAL_TTL_S, value)
    return value


def bot_facts_forget(shop_id: int) -> None:
    """Called after the shop's bot settings, FAQ rules or team change (in this process at once, others ≤30 s)."""
    _local.pop(("bot", shop_id), None)


def _shop_bot_facts(shop_id: int) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        shop = Shop.objects.get(pk=shop_id)
        cfg = bot_settings_get(shop)
        keywords = [
            k.strip().lower()
            for rule in FaqRule.objects.filter(shop_id=shop_id, is_active=True)
            for k in rule.keywords.replace("，", ",").split(",")
            if k.strip()
        ]
        staff = list(
            ShopMember.objects.filter(shop_id=shop_id, is_active=True).values_list("user_id", flat=True)
        )
        phrases = list(_rules_for(shop_id))
        return {"shop": shop, "settings": cfg, "faq": keywords, "staff": staff, "phrases": phrases}

    return _local_cached("bot", shop_id, load)


def _local_now(shop: Shop, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()).astimezone(ZoneInfo(shop.timezone))


def _between(t: dt.time, start: dt.time, end: dt.time) -> bool:
    """Is t in [start, end), where the window may cross midnight (22:00–08:00)?"""
    return start <= t < end if start <= end else (t >= start or t < end)


def _rules_for(shop_id: int) -> dict[str, PhraseRule]:
    """The shop's phrase rules. The shared cache only saves a query: with Redis down they come from the
    database, so a fan's message (the bot looks inside its transaction) is stored all the same."""
    key = f"bot:phrases:{shop_id}"
    try:
        cached = cache.get(key)
    except UNAVAILABLE_ERRORS:
        return _rules_load(shop_id)
    if cached is None:
        cached = _rules_load(shop_id)
        with contextlib.suppress(*UNAVAILABLE_ERRORS):
            cache.set(key, cached, 60)
    return cached


def _rules_load(shop_id: int) -> dict[str, PhraseRule]:
    rules = PhraseRule.objects.filter(
        Q(shop__isnull=True) | Q(shop_id=shop_id), is_active=True
    ).select_related("tag__group")
    return {r.phrase: r for r in rules}
