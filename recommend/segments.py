"""The "fan_ids" fan filter key, registered through fans.filters.EXTRA_FILTERS (the hook for higher apps).

A segment of explicit fans ("fans most likely to join" a product) is stored as {"fan_ids": [...]}.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.errors import Invalid
from fans.chat.models import Fan
from shops.models import Shop

MAX_FAN_IDS = 5000


class FanIdsFilter:
    def clean(self, shop: Shop, raw: Any) -> list[int]:
        if isinstance(raw, str):
            raw = [part for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list | tuple):
            raise Invalid(_("fan_ids must be a list of ids."))
        try:
            if any(isinstance(value, bool) for value in raw):
                raise ValueError
            ids = sorted({int(value) for value in raw})
        except (TypeError, ValueError, OverflowError):
            raise Invalid(_("fan_ids must be a list of ids.")) from None
        if len(ids) > MAX_FAN_IDS:
            raise Invalid(_("A segment can list at most %(n)d fans.") % {"n": MAX_FAN_IDS})
        return ids

    def apply(self, shop: Shop, qs: QuerySet[Fan], value: list[int]) -> QuerySet[Fan]:
        return qs.filter(pk__in=value)
