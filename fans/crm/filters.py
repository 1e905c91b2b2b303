"""The fan filter: one canonical dict used by the fan list, saved segments and bulk jobs."""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from core.db import is_postgresql
from core.errors import Invalid
from fans.chat.models import Fan
from fans.crm.models import FanTag, FanTagSet
from fans.crm.vocabulary import split_tag_list, tags_resolve
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
    "id": ("pk",),
    "-id": ("-pk",),
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
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
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


def _has_any(tag_ids: list[int]) -> Exists:
    """Fans holding at least one of these tags (the portable form; PostgreSQL uses _tag_query)."""
    return Exists(FanTag.objects.filter(fan=OuterRef("pk"), tag_id__in=tag_ids))


def _has_all(tag_ids: list[int]) -> Q:
    q = Q()
    for tag_id in tag_ids:
        q &= Exists(FanTag.objects.filter(fan=OuterRef("pk"), tag_id=tag_id))
    return q


def _tag_ids(shop: Shop, flt: dict[str, Any], key: str) -> list[int]:
    return sorted(t.pk for t in tags_resolve(shop, flt[key])) if flt.get(key) else []


def _tag_set_filter(shop: Shop, flt: dict[str, Any]) -> tuple[Q | None, Q | None]:
    """The tag filters on FanTagSet.tags: (what a fan's row must match, the none-of part alone).

    The first is None when the filter names no tag a fan must hold: fans without a FanTagSet row (no tags)
    can then match, so the none-of part is applied as NOT EXISTS instead. `@>` and `&&` on integer[] are
    intarray's operators, answered by its GIN index; the none-of part is checked on the rows it finds.
    """
    must = Q()
    if all_ids := _tag_ids(shop, flt, "tags_all"):
        must &= Q(tags__contains=all_ids)
    if any_ids := _tag_ids(shop, flt, "tags_any"):
        must &= Q(tags__overlap=any_ids)
    none_ids = _tag_ids(shop, flt, "tags_none")
    none = Q(tags__overlap=none_ids) if none_ids else None
    if not must:
        return None, none
    return (must & ~none if none is not None else must), none


def _filter_tags(shop: Shop, qs: QuerySet[Fan], flt: dict[str, Any]) -> QuerySet[Fan]:
    if not is_postgresql(connection):
        if flt.get("tags_all"):
            qs = qs.filter(_has_all(_tag_ids(shop, flt, "tags_all")))
        if flt.get("tags_any"):
            qs = qs.filter(_has_any(_tag_ids(shop, flt, "tags_any")))
        if flt.get("tags_none"):
            qs = qs.filter(~_has_any(_tag_ids(shop, flt, "tags_none")))
        return qs
    must, none = _tag_set_filter(shop, flt)
    if must is not None:
        return qs.filter(Exists(FanTagSet.objects.filter(must, fan=OuterRef("pk"))))
    if none is not None:
        return qs.filter(~Exists(FanTagSet.objects.filter(none, fan=OuterRef("pk"))))
    return qs


def fan_queryset(shop: Shop, flt: dict[str, Any]) -> QuerySet[Fan]:
    """The shop's fans matching a cleaned filter (no ordering applied)."""
    qs = _filter_tags(shop, Fan.objects.filter(shop=shop), flt)
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


# Orderings a FanTagSet row can answer itself, through its (shop, joined_at, fan) index.
_TAG_SET_ORDERINGS = {
    ORDERINGS["joined_at"]: ("joined_at", "fan_id"),
    ORDERINGS["-joined_at"]: ("-joined_at", "-fan_id"),
}


def _tag_segment(shop: Shop, flt: dict[str, Any]) -> QuerySet[FanTagSet] | None:
    """On PostgreSQL, a filter of tags alone that names a tag to hold is answered by FanTagSet rows alone.

    Counting them reads the narrow rows the GIN index finds instead of as many Fan rows (bench/crm.py).
    """
    if not is_postgresql(connection) or not set(flt) <= {"tags_all", "tags_any", "tags_none"}:
        return None
    must, _none = _tag_set_filter(shop, flt)
    return FanTagSet.objects.filter(must, shop=shop) if must is not None else None


def fan_count(shop: Shop, flt: dict[str, Any]) -> int:
    """How many of the shop's fans match a cleaned filter; the same number as fan_queryset(...).count()."""
    segment = _tag_segment(shop, flt)
    return segment.count() if segment is not None else fan_queryset(shop, flt).count()


def fan_page(
    shop: Shop, flt: dict[str, Any], ordering: tuple[str, ...], *, offset: int, limit: int
) -> tuple[int, list[int]]:
    """How many fans match, and the ids of one page of them in `ordering`; the caller loads just those rows.

    The count and the page are separate queries, each with its own plan: paging ids first keeps the fan
    list's joins (user, conversation) to the rows shown, and lets a tag segment walk its covering index in
    list order until the page is full.
    """
    segment = _tag_segment(shop, flt)
    if segment is None:
        qs = fan_queryset(shop, flt)
        count = qs.count()
        ids = qs.order_by(*ordering).values_list("pk", flat=True)
    else:
        count = segment.count()
        if ordering in _TAG_SET_ORDERINGS:
            ids = segment.order_by(*_TAG_SET_ORDERINGS[ordering]).values_list("fan_id", flat=True)
        else:
            ids = fan_queryset(shop, flt).order_by(*ordering).values_list("pk", flat=True)
    if count == 0 or offset >= count:
        return count, []
    return count, list(ids[offset : offset + limit])
