"""The fan filter: one canonical dict used by the fan list, saved segments and bulk jobs."""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from fans.models import Fan, FanTag
from fans.vocabulary import split_tag_list, tags_resolve
from shops.errors import Invalid
from shops.models import Shop

ORDERINGS = {
    "joined_at": ("joined_at", "pk"),
    "-joined_at": ("-joined_at", "-pk"),
    "display_name": ("display_name", "pk"),
    "-display_name": ("-display_name", "-pk"),
    "last_message_at": ("conversation__last_message_at", "pk"),
    "-last_message_at": ("-conversation__last_message_at", "-pk"),
    "total_spend": ("total_spend", "pk"),
    "-total_spend": ("-total_spend", "-pk"),
    "pledge_count": ("pledge_count", "pk"),
    "-pledge_count": ("-pledge_count", "-pk"),
}
FILTER_KEYS = {
    "tags_all",
    "tags_any",
    "tags_none",
    "q",
    "assigned_to",
    "joined_after",
    "joined_before",
    "last_message_after",
    "last_message_before",
    "min_spend",
    "max_spend",
    "min_pledges",
    "max_pledges",
}
# Hooks for higher apps (preorders: campaign participation) to add filter keys without fans importing them.
EXTRA_FILTERS: dict[str, Any] = {}


def _date(value: Any, name: str) -> dt.datetime | dt.date:
    parsed = parse_datetime(str(value)) or parse_date(str(value))
    if parsed is None:
        raise Invalid(_("%(name)s must be a date (YYYY-MM-DD).") % {"name": name})
    return parsed


def _decimal(value: Any, name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Invalid(_("%(name)s must be a number.") % {"name": name}) from None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Invalid(_("%(name)s must be a whole number.") % {"name": name}) from None


def fan_filter_clean(shop: Shop, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a filter from a query string or JSON body into its canonical, storable form."""
    if not isinstance(raw, dict):
        raise Invalid(_("A filter must be an object."))
    clean: dict[str, Any] = {}
    for key in ("tags_all", "tags_any", "tags_none"):
        tags = split_tag_list(raw.get(key))
        if tags:
            tags_resolve(shop, tags)  # raises unknown_tag
            clean[key] = tags
    if raw.get("q"):
        clean["q"] = str(raw["q"]).strip()[:100]
    assigned = raw.get("assigned_to")
    if assigned not in (None, ""):
        clean["assigned_to"] = "none" if assigned in ("none", "unassigned") else _int(assigned, "assigned_to")
    for key in ("joined_after", "joined_before", "last_message_after", "last_message_before"):
        if raw.get(key):
            clean[key] = _date(raw[key], key).isoformat()
    for key in ("min_spend", "max_spend"):
        if raw.get(key) not in (None, ""):
            clean[key] = str(_decimal(raw[key], key))
    for key in ("min_pledges", "max_pledges"):
        if raw.get(key) not in (None, ""):
            clean[key] = _int(raw[key], key)
    for key, hook in EXTRA_FILTERS.items():
        if raw.get(key) not in (None, ""):
            clean[key] = hook.clean(shop, raw[key])
    return clean


def _has_any(tag_ids: list[int]) -> Q | Exists:
    """Fans holding at least one of these tags."""
    if connection.vendor == "postgresql":
        # Containment on the GIN-indexed jsonb copy of the fan's tags (measured in bench/crm.py).
        q = Q()
        for tag_id in tag_ids:
            q |= Q(tag_ids__contains=[tag_id])
        return q
    return Exists(FanTag.objects.filter(fan=OuterRef("pk"), tag_id__in=tag_ids))


def _has_all(tag_ids: list[int]) -> Q | Exists:
    if connection.vendor == "postgresql":
        return Q(tag_ids__contains=sorted(tag_ids))
    q = Q()
    for tag_id in tag_ids:
        q &= Exists(FanTag.objects.filter(fan=OuterRef("pk"), tag_id=tag_id))
    return q


def fan_queryset(shop: Shop, flt: dict[str, Any]) -> QuerySet[Fan]:
    """The shop's fans matching a cleaned filter (no ordering applied)."""
    qs = Fan.objects.filter(shop=shop)
    if flt.get("tags_all"):
        qs = qs.filter(_has_all([t.pk for t in tags_resolve(shop, flt["tags_all"])]))
    if flt.get("tags_any"):
        qs = qs.filter(_has_any([t.pk for t in tags_resolve(shop, flt["tags_any"])]))
    if flt.get("tags_none"):
        qs = qs.filter(~_has_any([t.pk for t in tags_resolve(shop, flt["tags_none"])]))
    if flt.get("q"):
        q = flt["q"]
        qs = qs.filter(Q(display_name__icontains=q) | Q(notes__icontains=q) | Q(user__username__icontains=q))
    if "assigned_to" in flt:
        qs = (
            qs.filter(assigned_to__isnull=True)
            if flt["assigned_to"] == "none"
            else qs.filter(assigned_to_id=flt["assigned_to"])
        )
    if flt.get("joined_after"):
        qs = qs.filter(joined_at__gte=flt["joined_after"])
    if flt.get("joined_before"):
        qs = qs.filter(joined_at__lt=flt["joined_before"])
    if flt.get("last_message_after"):
        qs = qs.filter(conversation__last_message_at__gte=flt["last_message_after"])
    if flt.get("last_message_before"):
        qs = qs.filter(conversation__last_message_at__lt=flt["last_message_before"])
    if flt.get("min_spend"):
        qs = qs.filter(total_spend__gte=flt["min_spend"])
    if flt.get("max_spend"):
        qs = qs.filter(total_spend__lte=flt["max_spend"])
    if "min_pledges" in flt:
        qs = qs.filter(pledge_count__gte=flt["min_pledges"])
    if "max_pledges" in flt:
        qs = qs.filter(pledge_count__lte=flt["max_pledges"])
    for key, hook in EXTRA_FILTERS.items():
        if key in flt:
            qs = hook.apply(shop, qs, flt[key])
    return qs


def ordering_clean(value: str | None) -> tuple[str, ...]:
    if not value:
        return ORDERINGS["-joined_at"]
    if value not in ORDERINGS:
        raise Invalid(_("Unknown ordering; use one of %(o)s.") % {"o": ", ".join(ORDERINGS)})
    return ORDERINGS[value]
