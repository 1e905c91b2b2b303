"""Lifecycle tags for the demo shops: fans joined over the past year (the seed creates them all today), then
the nightly computation, so the owner's settings page shows new / active / at risk / lapsed / VIP counts."""

import datetime as dt

from django.utils import timezone

from fans.chat.models import Fan
from fans.crm.lifecycle import lifecycle_recompute
from fans.crm.models import FanTagSet
from shops.models import Shop

# Days ago each fan joined, by position (deterministic): two in ten are new, the rest joined 1 to 13 months ago.
JOINED_DAYS_AGO = [3, 9, 35, 60, 75, 110, 150, 200, 260, 330]


def demo_lifecycle_ensure() -> dict[str, dict[str, int]]:
    now = timezone.now()
    counts: dict[str, dict[str, int]] = {}
    for shop in Shop.objects.filter(slug__in=["shop1", "shop2"]).order_by("pk"):
        fans = list(Fan.objects.filter(shop=shop).order_by("pk").values_list("pk", "joined_at"))
        for i, (pk, joined) in enumerate(fans):
            if now - joined < dt.timedelta(days=1):  # as seeded today; a second demo run leaves them alone
                days = JOINED_DAYS_AGO[i % len(JOINED_DAYS_AGO)] + (i * 7) % 5
                joined = now - dt.timedelta(days=days)
                Fan.objects.filter(pk=pk).update(joined_at=joined)
                FanTagSet.objects.filter(fan_id=pk).update(joined_at=joined)  # its copy of joined_at
        counts[shop.slug] = lifecycle_recompute(shop, now=now)["counts"]
    return counts
