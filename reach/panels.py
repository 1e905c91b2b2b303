"""The HTML reach adds to lower apps' pages through their hooks (fans.chat, fans.bot, fans.crm)."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from core.zones import in_zone
from reach import selectors
from reach.models import PushPreference
from reach.services import scheduled
from reach.services.digests import digest_settings_get
from shops.roles import is_managing


def _push_config() -> dict[str, Any]:
    return {"publicKey": settings.FANSI_VAPID_PUBLIC_KEY, "sw": "/sw.js"}


def push_switch(request: Any, mode: str, shop: Any, conversation: Any) -> SafeString | str:
    """The per-device notification switch: on the fan's chat page, and beside the inbox's list."""
    if not settings.FANSI_VAPID_PUBLIC_KEY or (mode == "inbox" and conversation is not None):
        return ""
    return mark_safe(
        render_to_string("reach/_push_switch.html", {"push": _push_config(), "mode": mode}, request)
    )


def reminders_panel(request: Any, mode: str, shop: Any, conversation: Any) -> SafeString | str:
    """ "Remind me about this fan" and my open reminders, in the inbox's open conversation."""
    if mode != "inbox" or conversation is None:
        return ""
    rows = [
        {**selectors.reminder_to_dict(r), "local": in_zone(r.remind_at, shop.timezone)}
        for r in selectors.reminder_list(user=request.user, conversation_id=conversation.pk)
    ]
    today = in_zone(timezone.now(), shop.timezone).date()
    return mark_safe(
        render_to_string(
            "reach/_reminders.html",
            {"conversation": conversation, "reminders": rows, "today": today.isoformat()},
            request,
        )
    )


def scheduled_panel(request: Any, mode: str, shop: Any, conversation: Any) -> SafeString | str:
    """ "Send later" for one fan, and what is scheduled in this conversation, in the inbox's open conversation."""
    if mode != "inbox" or conversation is None:
        return ""
    rows = [
        {**scheduled.scheduled_message_to_dict(r), "local": in_zone(r.send_at, shop.timezone)}
        for r in selectors.scheduled_message_list(user=request.user, conversation_id=conversation.pk)
    ]
    tomorrow = (in_zone(timezone.now(), shop.timezone) + dt.timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    return mark_safe(
        render_to_string(
            "reach/_scheduled.html",
            {
                "conversation": conversation,
                "scheduled": rows,
                "default_at": tomorrow.strftime("%Y-%m-%dT%H:%M"),
                "tz": shop.timezone,
            },
            request,
        )
    )


def digest_settings_panel(request: Any, shop: Any) -> SafeString | str:
    member = shop.members.filter(user=request.user, is_active=True).first()
    return mark_safe(
        render_to_string(
            "reach/_digest_settings.html",
            {
                "shop": shop,
                "digest": digest_settings_get(shop),
                "can_manage": member is not None and is_managing(member),
            },
            request,
        )
    )


def privacy_devices(request: Any) -> SafeString | str:
    """/me/privacy/: the devices that get my notifications (remove one), and lock-screen previews."""
    preference = PushPreference.objects.filter(user_id=request.user.pk).first()
    return mark_safe(
        render_to_string(
            "reach/_privacy_devices.html",
            {
                "devices": list(selectors.push_subscription_list(user=request.user)),
                "previews": bool(preference and preference.previews),
                "push": _push_config(),
            },
            request,
        )
    )
