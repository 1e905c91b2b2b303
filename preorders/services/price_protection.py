"""贵就赔 after the close: if the same product gets cheaper within 30 days of a campaign's close (another
campaign for it, or a direct price cut of the product or the pledged variant), every paid fan gets the
difference back, automatically and once.

A beat sweep (every minute) compares each recently closed campaign's final price with the lowest price the
product is offered at now, so a cut made anywhere (a new campaign, the Django admin) is found without a
hook in the lower apps. The credit is written first (unique reference per pledge), then paid out through
the provider and the ledger, then marked paid: a killed sweep's rerun finishes it exactly once.
"""

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.models import Account, TransactionKind
from preorders.models import Campaign, CampaignKind, CampaignStatus, Credit, CreditKind, Pledge, PledgeStatus
from preorders.money import money_round
from preorders.selectors import campaign_current_unit_price
from preorders.services.notices import pledge_tell
from preorders.services.payments import credit_pay_out
from shops.models import Product, Variant

logger = logging.getLogger(__name__)

WINDOW = dt.timedelta(days=30)


def price_cut_reference(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-price-cut"


def lowest_offer(campaign: Campaign) -> dict[int, Decimal]:
    """The lowest price each of the campaign's pledged variants is offered at now: the variant's and the
    product's list price, and what another live or later campaign for the same product charges."""
    product = Product.objects.get(pk=campaign.product_id)
    variant_prices = dict(
        Variant.objects.filter(
            pk__in=Pledge.objects.filter(campaign=campaign).values("variant_id")
        ).values_list("pk", "price")
    )
    others = [
        campaign_current_unit_price(c)
        for c in Campaign.objects.filter(product_id=campaign.product_id, kind=CampaignKind.GROUP)
        .exclude(pk=campaign.pk)
        .filter(
            Q(status=CampaignStatus.LIVE)
            | Q(status=CampaignStatus.SUCCEEDED, decided_at__gte=campaign.closed_at)
        )
        .prefetch_related("tiers")
    ]
    floor = min([product.price, *others]) if others else product.price
    return {vid: min(price, floor) for vid, price in variant_prices.items()}


def price_protection_run(*, campaign_id: int, now: dt.datetime | None = None) -> int:
    """Credit and pay every paid pledge of one campaign whose product got cheaper; returns credits paid."""
    now = now or timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if (
        campaign is None
        or campaign.status != CampaignStatus.SUCCEEDED
        or campaign.final_unit_price is None
        or campaign.closed_at is None
        or campaign.closed_at < now - WINDOW
    ):
        return 0
    offers = lowest_offer(campaign)
    final = campaign.final_unit_price
    if not offers or min(offers.values()) >= final:
        return 0
    rows = list(
        Pledge.objects.filter(campaign=campaign, status=PledgeStatus.PAID)
        .exclude(credits__reference__endswith="-price-cut")
        .values_list("pk", "variant_id", "quantity", "currency")
    )
    credits = []
    for pk, variant_id, quantity, currency in rows:
        lower = offers.get(variant_id, final)
        if lower < final:
            credits.append(
                Credit(
                    pledge_id=pk,
                    kind=CreditKind.PRICE_PROTECTION,
                    amount=money_round(Decimal(quantity) * (final - lower)),
                    currency=currency,
                    reference=price_cut_reference(pk),
                    note=_("The price fell to %(price)s within 30 days") % {"price": lower},
                )
            )
    with transaction.atomic():
        Credit.objects.bulk_create(
            [c for c in credits if c.amount > 0], ignore_conflicts=True, batch_size=2000
        )
    from preorders.services.after_sales import campaign_released

    source = Account.SHOP_PAYABLE if campaign_released(campaign.pk) else Account.FANS_HELD
    paid = 0
    unpaid = Credit.objects.select_related("pledge").filter(
        pledge__campaign_id=campaign.pk, reference__endswith="-price-cut", paid_out=False
    )
    for credit in unpaid.order_by("pk").iterator(chunk_size=500):
        if credit_pay_out(credit=credit, kind=TransactionKind.PRICE_PROTECTION, source=source):
            paid += 1
    for credit in Credit.objects.filter(
        pledge__campaign_id=campaign.pk, reference__endswith="-price-cut", paid_out=True
    ).order_by("pk"):
        pledge_tell(
            pledge_id=credit.pledge_id,
            what="price_cut",
            text=lambda pledge, amount=credit.amount: (
                _(
                    "“%(title)s” got cheaper within 30 days of its close. As promised (贵就赔), the difference, "
                    "¥%(amount)s, has been paid back to you."
                )
                % {"title": pledge.campaign.title, "amount": amount}
            ),
            card={"amount": str(credit.amount)},
        )
    return paid


def price_protection_due(*, now: dt.datetime | None = None) -> list[int]:
    """Beat entry: every group campaign closed in the last 30 days with paid pledges."""
    now = now or timezone.now()
    due = list(
        Campaign.objects.filter(
            kind=CampaignKind.GROUP,
            status=CampaignStatus.SUCCEEDED,
            closed_at__gte=now - WINDOW,
            pledges__status=PledgeStatus.PAID,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    for campaign_id in due:
        try:
            price_protection_run(campaign_id=campaign_id, now=now)
        except Exception:  # noqa: BLE001 - one campaign must not block the others; the next run retries
            logger.exception("price protection of campaign %s failed", campaign_id)
    return due
