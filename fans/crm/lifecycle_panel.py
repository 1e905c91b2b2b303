"""The lifecycle section of the shop settings page (registered into fans.bot.hooks.settings_panels by preorders,
which also provides the spend the tags are computed from)."""

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from fans.crm.lifecycle import lifecycle_tags
from fans.crm.lifecycle_settings import lifecycle_settings_get, lifecycle_settings_to_dict
from fans.crm.models import LIFECYCLE_STAGES, LIFECYCLE_VIP
from shops.roles import is_managing


def lifecycle_bars(counts: dict[str, int]) -> list[dict[str, Any]]:
    tags = lifecycle_tags()
    top = max([counts.get(code, 0) for code in tags] + [1])
    return [
        {
            "code": code,
            "name": tags[code].name,
            "count": counts.get(code, 0),
            "pct": round(100 * counts.get(code, 0) / top),
        }
        for code in (*LIFECYCLE_STAGES, LIFECYCLE_VIP)
        if code in tags
    ]


def lifecycle_settings_panel(request: Any, shop: Any) -> SafeString | str:
    member = shop.members.filter(user=request.user, is_active=True).first()
    if member is None:
        return ""
    row = lifecycle_settings_get(shop)
    state = lifecycle_settings_to_dict(row)
    return mark_safe(
        render_to_string(
            "fans/crm/_lifecycle_settings.html",
            {
                "shop": shop,
                "lifecycle": row,
                "state": state,
                "bars": lifecycle_bars(state["counts"]),
                "can_manage": is_managing(member),
            },
            request,
        )
    )
