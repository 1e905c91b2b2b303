"""The fan's pledges in one shop, for the CRM fan profile (fans.crm.hooks.fan_pledges)."""

from decimal import Decimal
from typing import Any

from django.urls import reverse

from fans.chat.models import Fan
from payments.ledger import pledges_cash
from preorders.models import CampaignKind, Pledge, PledgeStatus

FAN_PLEDGES_SHOWN = 50


def fan_pledges_list(fan: Fan) -> list[dict[str, Any]]:
    """Newest first, scoped by the fan row (one shop); what each has paid comes from the ledger."""
    pledges = list(
        Pledge.objects.filter(fan=fan)
        .select_related("campaign")
        .order_by("-created_at", "-pk")[:FAN_PLEDGES_SHOWN]
    )
    paid = pledges_cash(p.pk for p in pledges)
    status_labels = dict(PledgeStatus.choices)
    kind_labels = dict(CampaignKind.choices)
    return [
        {
            "id": p.pk,
            "campaign_id": p.campaign_id,
            "campaign_title": p.campaign.title,
            "campaign_url": reverse("campaign-detail", args=[p.campaign_id]),
            "kind": p.campaign.kind,
            "kind_label": str(kind_labels.get(p.campaign.kind, p.campaign.kind)),
            "variant": p.variant_name,
            "sku": p.sku,
            "quantity": p.quantity,
            "status": p.status,
            "status_label": str(status_labels.get(p.status, p.status)),
            "paid": str(paid.get(p.pk, Decimal("0.00"))),
            "currency": p.currency,
            "created_at": p.created_at,
        }
        for p in pledges
    ]
