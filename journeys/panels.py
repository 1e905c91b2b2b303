"""The HTML journeys adds to lower apps' pages through their hooks (fans.crm's /me/privacy/)."""

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from fans.chat.models import Fan


def privacy_birthday(request: Any) -> SafeString | str:
    """/me/privacy/: share my birthday (month and day) with each shop I follow, or stop sharing it."""
    fans = list(Fan.objects.filter(user_id=request.user.pk).select_related("shop").order_by("shop__name"))
    if not fans:
        return ""
    rows = [
        {
            "fan": f,
            "value": f"2000-{f.birthday_month:02d}-{f.birthday_day:02d}" if f.birthday_month else "",
        }
        for f in fans
    ]
    return mark_safe(render_to_string("journeys/_privacy_birthday.html", {"rows": rows}, request))
