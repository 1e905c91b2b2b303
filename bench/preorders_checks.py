"""bench/preorders.py's checks on what a run wrote: oversold and double-charged pledges after the load
phases, and the state a campaign close leaves (to prove a second close creates nothing)."""

from typing import Any


def check_pledges(
    cast: dict[str, Any], load: dict[str, Any], cap: int, campaign_id: int | None = None
) -> dict[str, Any]:
    from django.db.models import Count, Sum

    from preorders.models import Campaign, LedgerEntry, Pledge

    campaign = Campaign.objects.get(pk=campaign_id or cast["campaign"])
    active = Pledge.objects.filter(campaign=campaign, status="active").aggregate(
        n=Count("pk"), q=Sum("quantity")
    )
    held = active["q"] or 0
    oversold = (
        max(0, held - cap)
        + max(0, campaign.committed_quantity - cap)
        + abs(campaign.committed_quantity - held)
    )
    multi_charged = (
        LedgerEntry.objects.filter(pledge__campaign=campaign, kind="charge")
        .values("pledge_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    retry_mismatch = 0
    for s1, s2, o1, o2 in load["retry_pairs"]:
        if s1 == 201 and (s2 not in (201, 409) or (s2 == 201 and o2.get("id") != o1.get("id"))):
            retry_mismatch += 1
    charges = LedgerEntry.objects.filter(pledge__campaign=campaign, kind="charge").count()
    ids = [c["id"] for c in load["created"]]
    return {
        "oversold": oversold,
        "double_charged": multi_charged + retry_mismatch + (len(ids) - len(set(ids))),
        "committed_quantity": campaign.committed_quantity,
        "cap": cap,
        "active_pledges": active["n"],
        "charges": charges,
        "charges_match_pledges": charges == active["n"],
        "retried_keys": len(load["retry_pairs"]),
        "retries_replayed_same_pledge": sum(
            1
            for s1, s2, o1, o2 in load["retry_pairs"]
            if s1 == 201 and s2 == 201 and o1.get("id") == o2.get("id")
        ),
    }


def state_counts(campaign_id: int) -> dict[str, Any]:
    from django.db.models import Count, Sum

    from fans.chat.models import Fan
    from preorders.models import CampaignNotice, FactoryOrder, FactoryOrderLine, LedgerEntry, Pledge

    return {
        "ledger": LedgerEntry.objects.count(),
        "orders": FactoryOrder.objects.count(),
        "lines": list(FactoryOrderLine.objects.order_by("pk").values_list("sku", "quantity", "value")),
        "pledges": dict(
            Pledge.objects.filter(campaign_id=campaign_id).values_list("status").annotate(n=Count("pk"))
        ),
        "spend": str(Fan.objects.aggregate(s=Sum("total_spend"))["s"]),
        "notices": CampaignNotice.objects.count(),
    }
