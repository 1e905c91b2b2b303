"""Shop time: a shop's fans read times in the shop's own time zone (Shop.timezone, an IANA name)."""

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings


def zone(name: str | None) -> ZoneInfo:
    """The named zone; the site's zone for a blank or unknown name, so a bad row never breaks a page."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def in_zone(value: dt.datetime, name: str | None) -> dt.datetime:
    """`value` as wall time in the named zone; UTC where that zone cannot hold it (past year 9999)."""
    try:
        return value.astimezone(zone(name))
    except (OverflowError, ValueError):
        return value.astimezone(dt.UTC)
