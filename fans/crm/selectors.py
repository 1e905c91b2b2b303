"""Reads for the fan CRM: fans' tags and the fan list."""

from typing import Any

from django.db.models import QuerySet


def fan_tag_strings(fan_ids: list[int]) -> dict[int, list[str]]:
    """`group:tag` strings per fan, in one query."""
    from fans.crm.models import FanTag

    out: dict[int, list[str]] = {fid: [] for fid in fan_ids}
    rows = (
        FanTag.objects.filter(fan_id__in=fan_ids)
        .order_by("group__position", "tag__position")
        .values_list("fan_id", "group__code", "tag__code")
    )
    for fan_id, group_code, tag_code in rows:
        out[fan_id].append(f"{group_code}:{tag_code}")
    return out


def fan_tag_details(fan) -> list[dict[str, Any]]:
    """The tags a shop holds on one fan, with source, who and when (for freshness)."""
    from fans.crm.models import FanTag

    return [
        {
            "tag": f"{ft.group.code}:{ft.tag.code}",
            "group": ft.group.code,
            "group_name": ft.group.name,
            "name": ft.tag.name,
            "source": ft.source,
            "added_by": (ft.added_by.get_username() if ft.added_by else None),
            "created_at": ft.created_at,
        }
        for ft in FanTag.objects.filter(fan=fan)
        .select_related("group", "tag", "added_by")
        .order_by("group__position", "tag__position")
    ]


def fan_list(*, shop, flt: dict[str, Any], ordering: tuple[str, ...]) -> QuerySet:
    from fans.crm.filters import fan_queryset

    return fan_queryset(shop, flt).select_related("user", "assigned_to", "conversation").order_by(*ordering)
