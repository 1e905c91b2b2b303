"""What the owner's campaign page needs for its controls (close now, extend, cancel): campaign_manage.js."""

import datetime as dt
from typing import Any

from django.urls import reverse

from preorders.models import Campaign
from preorders.services.campaign_manage import EXTEND_MAX, shop_zone

# The value a datetime-local input holds: local wall time to the minute.
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def manage_config(campaign: Campaign) -> dict[str, Any]:
    """The owner's controls (preorders/api_manage.py) for campaign_manage.js."""
    return {
        "close_api": reverse("api-campaign-close", args=[campaign.pk]),
        "extend_api": reverse("api-campaign-extend", args=[campaign.pk]),
        "cancel_api": reverse("api-campaign-cancel", args=[campaign.pk]),
        "display_status": campaign.display_status,
    }


def extend_bounds(campaign: Campaign) -> dict[str, str]:
    """The date picker of an extension, in the shop's wall time: after the deadline, at most 14 days on."""
    zone = shop_zone(campaign.shop)
    try:
        deadline = campaign.deadline.astimezone(zone)
        return {
            "extend_min": (deadline + dt.timedelta(minutes=1)).strftime(LOCAL_INPUT),
            "extend_max": (deadline + EXTEND_MAX).strftime(LOCAL_INPUT),
            "extend_default": (deadline + dt.timedelta(days=7)).strftime(LOCAL_INPUT),
        }
    except OverflowError:  # a stored deadline at the end of time: no extension to offer
        return {}
