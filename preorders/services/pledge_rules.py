"""What every pledge write shares: the checks on quantity, variant and an open campaign, and the answer it
returns (the same body an Idempotency-Key replays)."""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from preorders.models import Campaign, CampaignKind, CampaignStatus, Pledge
from shops.models import Variant


def pledge_to_dict(pledge: Pledge) -> dict[str, Any]:
    return {
        "id": pledge.pk,
        "campaign": pledge.campaign_id,
        "variant": pledge.variant_id,
        "variant_name": pledge.variant_name,
        "sku": pledge.sku,
        "quantity": pledge.quantity,
        "unit_price": str(pledge.unit_price),
        "deposit_amount": str(pledge.deposit_amount),
        "currency": pledge.currency,
        "status": pledge.status,
        "final_unit_price": None if pledge.final_unit_price is None else str(pledge.final_unit_price),
        "balance_due": None if pledge.balance_due is None else str(pledge.balance_due),
        "cancel_reason": pledge.cancel_reason,
        "created_at": pledge.created_at.isoformat() if pledge.created_at else None,
    }


def quantity_clean(value: Any) -> int:
    if isinstance(value, bool):
        value = None
    try:
        quantity = int(value)
        if isinstance(value, float) and value != quantity:
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(_("quantity must be a whole number."), code="quantity_invalid") from None
    if quantity <= 0:
        raise Invalid(_("quantity must be at least 1."), code="quantity_invalid")
    return quantity


def campaign_open_check(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.LIVE:
        raise Conflict(_("This campaign is not taking pledges."), code="campaign_closed")
    if campaign.kind == CampaignKind.GROUP and campaign.deadline <= timezone.now():
        raise Conflict(_("The deadline has passed."), code="campaign_closed")


def variant_get(campaign: Campaign, variant_id: Any) -> Variant:
    try:
        pk = int(variant_id)
    except (TypeError, ValueError):
        raise Invalid(_("variant must be an id."), code="variant_invalid") from None
    variant = Variant.objects.filter(pk=pk, product_id=campaign.product_id).first()
    offered = Campaign.variants.through.objects.filter(campaign_id=campaign.pk)
    if variant is not None and offered.exists() and not offered.filter(variant_id=pk).exists():
        variant = None  # the campaign chose its variants and this is not one of them
    if variant is None:
        raise Invalid(_("That variant is not part of this campaign's product."), code="variant_invalid")
    if not variant.is_available:
        raise Conflict(_("That variant is not available."), code="variant_unavailable")
    return variant
