"""`{{ value|local_time:"Y-m-d H:i" }}`: Django's `date` filter in the current time zone, except that a
stored time the zone cannot hold (past year 9999 there) is shown in UTC instead of failing the page."""

import datetime as dt

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import dateformat
from django.utils.timezone import template_localtime

from core.zones import in_zone

register = template.Library()


@register.filter(expects_localtime=False)
def local_time(value: dt.datetime | None, fmt: str = "Y-m-d H:i") -> str:
    if not value:
        return ""
    try:
        shown = template_localtime(value, use_tz=True)
    except (OverflowError, ValueError):
        return dateformat.format(value.astimezone(dt.UTC), fmt) + " UTC"
    return date_filter(shown, fmt)


@register.filter(expects_localtime=False)
def shop_time(value: dt.datetime | None, tz_name: str = "") -> str:
    """`{{ campaign.deadline|shop_time:shop.timezone }}`: the time as the shop's fans read it."""
    if not value:
        return ""
    return date_filter(in_zone(value, tz_name), "Y-m-d H:i")
