"""慢就赔: every paid unit still unshipped at the campaign's ship_by earns late_compensation_percent of what
the fan paid, exactly once, paid back through the provider and told in chat.

Three steps, each safe to rerun after a worker is killed anywhere: (1) the intent, one Credit per pledge
(unique reference `pledge-<id>-late`) written in one short transaction; (2) each unpaid Credit paid out
(provider refund and ledger posting once per reference, then marked paid); (3) the fan told once
(PledgeNotice). The campaign is then marked late_checked_at, and the beat stops looking at it.

Who pays: the shop, out of its settlement (shop_payable), unless the factory had its full lead time and
still did not ship: when the factory order was sent to it at least lead_time_days before ship_by, the
factory pays (factory_payable, with factory_id on the posting). Never the platform's float (fans_held).
"""

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.ledger import pledges_cash
from payments.models import Account, TransactionKind
from preorders.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Credit,
    CreditKind,
    FactoryOrderSource,
    Pledge,
    PledgeStatus,
    ShipmentItem,
)
from preorders.money import money_round
from preorders.services.notices import pledge_tell
from preorders.services.payments import credit_pay_out

logger = logging.getLogger(__name__)


def _after_payout(credit_id: int) -> None:
    """Test seam: a sweep killed between two payouts raises here."""


def late_reference(pledge_id: int) -> str:
    return f"pledge-{pledge_id}-late"


def late_payer(campaign: Campaign) -> tuple[str, int | None]:
    """(account, factory id): the factory's payable when it had its full lead time before ship_by."""
    source = (
        FactoryOrderSource.objects.select_related("order__factory_product")
        .filter(campaign_id=campaign.pk)
        .first()
    )
    if source is None or campaign.ship_by is None:
        return Account.SHOP_PAYABLE, None
    order = source.order
    lead = dt.timedelta(days=order.factory_product.lead_time_days)
    if order.sent_at is not None and order.sent_at + lead <= campaign.ship_by:
        return Account.FACTORY_PAYABLE, order.factory_product.factory_id
    return Account.SHOP_PAYABLE, None


def unshipped_pledges(campaign_id: int):  # noqa: ANN201 - a queryset of Pledge
    """Paid pledges of a campaign with no parcel, or only lost ones."""
    live = ShipmentItem.objects.filter(pledge__campaign_id=campaign_id, lost=False).values("pledge_id")
    return Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.PAID).exclude(pk__in=live)


def late_credits_write(*, campaign: Campaign) -> int:
    """Step 1, the intent: a Credit for every paid pledge unshipped now (once per pledge, ever)."""
    rows = list(unshipped_pledges(campaign.pk).order_by("pk").values("pk", "currency"))
    if not rows:
        return 0
    cash = pledges_cash([r["pk"] for r in rows])
    percent = campaign.late_compensation_percent
    ship_by = timezone.localtime(campaign.ship_by).strftime("%Y-%m-%d %H:%M")
    credits = []
    for r in rows:
        amount = money_round(cash.get(r["pk"], Decimal(0)) * percent / 100)
        if amount <= 0:
            continue
        credits.append(
            Credit(
                pledge_id=r["pk"],
                kind=CreditKind.LATE_COMPENSATION,
                amount=amount,
                currency=r["currency"],
                reference=late_reference(r["pk"]),
                note=_("Not shipped by %(ship_by)s: %(percent)s%% of what was paid")
                % {"ship_by": ship_by, "percent": f"{percent.normalize():f}"},
            )
        )
    with transaction.atomic(durable=True):
        Credit.objects.bulk_create(credits, ignore_conflicts=True, batch_size=2000)
    return len(credits)


def _late_text(pledge: Pledge) -> str:
    credit = Credit.objects.filter(reference=late_reference(pledge.pk)).first()
    campaign = pledge.campaign
    return _(
        "“%(title)s” did not ship by %(ship_by)s. As promised (慢就赔), ¥%(amount)s has been paid back to you."
    ) % {
        "title": campaign.title,
        "ship_by": timezone.localtime(campaign.ship_by).strftime("%m-%d"),
        "amount": credit.amount if credit else "-",
    }


def late_compensation_run(*, campaign_id: int) -> bool:
    """Compensate one campaign past its ship_by; True once it is complete. Safe to rerun."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.late_checked_at is not None:
        return True
    if (
        campaign.kind != CampaignKind.GROUP
        or campaign.status != CampaignStatus.SUCCEEDED
        or campaign.ship_by is None
        or campaign.ship_by > timezone.now()
        or campaign.lapsed_at is None  # who has paid is settled only after the balance deadline
    ):
        return False
    late_credits_write(campaign=campaign)
    account, factory_id = late_payer(campaign)
    unpaid = Credit.objects.select_related("pledge").filter(
        pledge__campaign_id=campaign_id, kind=CreditKind.LATE_COMPENSATION, paid_out=False
    )
    for credit in unpaid.order_by("pk").iterator(chunk_size=500):
        credit_pay_out(
            credit=credit, kind=TransactionKind.COMPENSATION, source=account, factory_id=factory_id
        )
        _after_payout(credit.pk)
    paid = (
        Credit.objects.filter(
            pledge__campaign_id=campaign_id, kind=CreditKind.LATE_COMPENSATION, paid_out=True
        )
        .order_by("pledge_id")
        .values_list("pledge_id", flat=True)
    )
    for pledge_id in paid.iterator(chunk_size=500):
        pledge_tell(
            pledge_id=pledge_id, what="late_compensation", text=_late_text, card=_late_card(pledge_id)
        )
    Campaign.objects.filter(pk=campaign_id, late_checked_at__isnull=True).update(
        late_checked_at=timezone.now()
    )
    return True


def _late_card(pledge_id: int) -> dict:
    credit = Credit.objects.filter(reference=late_reference(pledge_id)).first()
    return {"amount": str(credit.amount)} if credit else {}


def late_compensation_due() -> list[int]:
    """Beat entry: every group campaign past its ship_by whose compensation is not complete."""
    due = list(
        Campaign.objects.filter(
            kind=CampaignKind.GROUP,
            status=CampaignStatus.SUCCEEDED,
            late_checked_at__isnull=True,
            lapsed_at__isnull=False,
            ship_by__lte=timezone.now(),
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for campaign_id in due:
        try:
            late_compensation_run(campaign_id=campaign_id)
        except Exception:  # noqa: BLE001 - the next run retries; one campaign must not block the others
            logger.exception("late compensation of campaign %s failed", campaign_id)
    return due
