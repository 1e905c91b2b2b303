"""The winners' pre-pledges: confirm within 48 h (top-up or excess refund against the campaign deposit), decline, lapse."""

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from c2m.design.access import access_pre_pledge
from c2m.design.models import (
    DesignPrePledge,
    DesignVote,
    PrePledgeStatus,
    VoteStatus,
)
from c2m.design.services.votes import vote_refund
from core.errors import Conflict
from fans.chat.models import Fan
from payments.ledger import cash_in, cash_out, ledger_has, ledger_post, ledger_post_many
from payments.models import LedgerTransaction, TransactionKind
from payments.provider import (
    ChargeRequest,
    PaymentError,
    PaymentTimeout,
    payment_provider,
)
from preorders.models import CampaignStatus, Pledge, PledgeStatus
from preorders.money import deposit_for
from preorders.selectors import campaign_tiers, unit_price_at
from preorders.services.events import progress_announce
from preorders.services.payments import PaymentFailed, pledge_abandon
from preorders.services.pledge_rules import campaign_open_check
from preorders.services.reservation import pledge_reserve
from preorders.services.spend import pledges_spend_refresh
from shops.models import Variant

logger = logging.getLogger(__name__)


# --- pre-pledges -------------------------------------------------------------------------------------------


def pre_pledge_quote(pp: DesignPrePledge) -> dict[str, Decimal]:
    """What confirming costs now: the campaign deposit for one unit less the vote deposit (or the excess
    that comes back)."""
    campaign = pp.campaign
    unit_price = unit_price_at(
        base=campaign.base_unit_price, tiers=campaign_tiers(campaign), quantity=campaign.committed_quantity
    )
    deposit = deposit_for(quantity=1, unit_price=unit_price, percent=campaign.deposit_percent)
    vote = pp.vote.amount
    return {
        "unit_price": unit_price,
        "deposit": deposit,
        "vote_deposit": vote,
        "to_pay": max(deposit - vote, Decimal(0)),
        "to_refund": max(vote - deposit, Decimal(0)),
    }


def pre_pledge_to_dict(pp: DesignPrePledge) -> dict[str, Any]:
    out = {
        "id": pp.pk,
        "campaign": pp.campaign_id,
        "status": pp.status,
        "expires_at": pp.expires_at.isoformat(),
        "pledge": pp.pledge_id,
    }
    if pp.status == PrePledgeStatus.OFFERED:
        out.update({k: str(v) for k, v in pre_pledge_quote(pp).items()})
    return out


def _excess_refund(pp: DesignPrePledge, pledge: Pledge, amount: Decimal) -> None:
    reference = f"pledge-{pledge.pk}-design-excess"
    if amount <= 0 or ledger_has(reference):
        return
    result = payment_provider().refund(
        reference=reference,
        charge_reference=pp.vote.charge_reference,
        amount=amount,
        currency=pledge.currency,
    )
    ledger_post(
        cash_out(
            TransactionKind.REFUND,
            reference,
            amount,
            currency=pledge.currency,
            shop_id=pp.campaign.shop_id,
            campaign_id=pledge.campaign_id,
            pledge_id=pledge.pk,
            provider_id=result.provider_id,
            memo="design vote deposit above the campaign deposit",
        )
    )


def pre_pledge_confirm(*, user: AbstractBaseUser, pre_pledge_id: Any) -> dict[str, Any]:
    """A winning voter takes their place: a pledge of one unit of the winning variant, whose deposit is
    the vote deposit plus the difference (charged now) or less the excess (refunded). Confirming twice
    returns the same pledge."""
    pp = access_pre_pledge(user, pre_pledge_id)
    if pp.status == PrePledgeStatus.CONFIRMED:
        return pre_pledge_to_dict(pp)
    if pp.status != PrePledgeStatus.OFFERED:
        raise Conflict(
            _("This pre-pledge is closed; its vote deposit was refunded."), code="pre_pledge_closed"
        )
    now = timezone.now()
    if pp.expires_at <= now:
        raise Conflict(_("The 48 hours to confirm have passed."), code="pre_pledge_expired")
    campaign = pp.campaign
    campaign_open_check(campaign)
    quote = pre_pledge_quote(pp)
    winner = pp.winner
    variant = Variant.objects.get(pk=winner.variant_id)
    pledge = Pledge(
        campaign_id=campaign.pk,
        fan_id=pp.vote.fan_id,
        user_id=user.pk,
        variant_id=variant.pk,
        variant_name=variant.name,
        sku=variant.sku,
        quantity=1,
        unit_price=quote["unit_price"],
        deposit_amount=quote["deposit"],
        currency=campaign.currency,
        status=PledgeStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    campaign.committed_quantity, _record = pledge_reserve(campaign, pledge, None)
    reference = f"pledge-{pledge.pk}-charge"
    provider_id = None
    if quote["to_pay"] > 0:
        try:
            result = payment_provider().charge(
                ChargeRequest(reference, quote["to_pay"], pledge.currency, user.pk), wait=True
            )
            provider_id = result.provider_id
        except PaymentError as exc:
            if isinstance(exc, PaymentTimeout):
                payment_provider().void(reference=reference)
            pledge_abandon(pledge)
            raise PaymentFailed(
                _("The difference could not be charged; nothing was stored."),
                code="payment_timeout" if isinstance(exc, PaymentTimeout) else "payment_failed",
            ) from None
    dims = {
        "currency": pledge.currency,
        "shop_id": campaign.shop_id,
        "campaign_id": campaign.pk,
        "pledge_id": pledge.pk,
    }
    with transaction.atomic(durable=True):
        taken = DesignPrePledge.objects.filter(pk=pp.pk, status=PrePledgeStatus.OFFERED).update(
            status=PrePledgeStatus.CONFIRMED, pledge_id=pledge.pk, confirmed_at=timezone.now()
        )
        activated = taken and Pledge.objects.filter(pk=pledge.pk, status=PledgeStatus.PENDING).update(
            status=PledgeStatus.ACTIVE, updated_at=timezone.now()
        )
        if not activated:
            transaction.set_rollback(True)
        else:
            if provider_id is not None:
                ledger_post_many(
                    [
                        cash_in(
                            TransactionKind.DEPOSIT,
                            reference,
                            quote["to_pay"],
                            provider_id=provider_id,
                            **dims,
                        )
                    ]
                )
            # The vote's charge is now part of this pledge's deposit (its dimensions, not its amounts, change).
            LedgerTransaction.objects.filter(reference=pp.vote.charge_reference).update(
                pledge_id=pledge.pk, campaign_id=campaign.pk
            )
            DesignVote.objects.filter(pk=pp.vote_id, status=VoteStatus.HELD).update(
                status=VoteStatus.CONVERTED, updated_at=timezone.now()
            )
            Fan.objects.filter(pk=pledge.fan_id).update(pledge_count=F("pledge_count") + 1)
            pledges_spend_refresh(pledge_ids=[pledge.pk])
            progress_announce(campaign)
    if not activated:
        # The lapse sweep (or a decline) closed it meanwhile: undo the reservation and the charge.
        if provider_id is not None:
            payment_provider().void(reference=reference)
        pledge_abandon(pledge)
        raise Conflict(
            _("This pre-pledge is closed; its vote deposit was refunded."), code="pre_pledge_closed"
        )
    pp.refresh_from_db()
    _excess_refund(pp, pledge, quote["to_refund"])
    return pre_pledge_to_dict(pp)


def pre_pledge_release(pp: DesignPrePledge, *, status: str) -> bool:
    """Close an offered pre-pledge (lapsed or declined) and refund its vote deposit."""
    if not DesignPrePledge.objects.filter(pk=pp.pk, status=PrePledgeStatus.OFFERED).update(status=status):
        if not DesignPrePledge.objects.filter(pk=pp.pk, status=status).exists():
            return False
    vote_refund(pp.vote, memo=f"design pre-pledge {status}")
    return True


def pre_pledge_decline(*, user: AbstractBaseUser, pre_pledge_id: Any) -> dict[str, Any]:
    pp = access_pre_pledge(user, pre_pledge_id)
    if pp.status == PrePledgeStatus.DECLINED:
        return pre_pledge_to_dict(pp)
    if pp.status != PrePledgeStatus.OFFERED:
        raise Conflict(_("This pre-pledge is already settled."), code="pre_pledge_closed")
    pre_pledge_release(pp, status=PrePledgeStatus.DECLINED)
    pp.refresh_from_db()
    return pre_pledge_to_dict(pp)


def pre_pledges_lapse_due(*, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Beat: offered pre-pledges past their 48 h (or whose campaign stopped taking pledges) lapse and are
    refunded; lapsed ones a killed worker left unrefunded are finished."""
    now = now or timezone.now()
    due = DesignPrePledge.objects.select_related("vote").filter(
        Q(status=PrePledgeStatus.OFFERED)
        & (Q(expires_at__lte=now) | ~Q(campaign__status=CampaignStatus.LIVE) | Q(campaign__deadline__lte=now))
    )
    done = 0
    for pp in due.order_by("pk")[:limit]:
        done += pre_pledge_release(pp, status=PrePledgeStatus.LAPSED)
    for pp in DesignPrePledge.objects.select_related("vote").filter(
        status__in=(PrePledgeStatus.LAPSED, PrePledgeStatus.DECLINED), vote__status=VoteStatus.HELD
    )[:limit]:
        vote_refund(pp.vote, memo=f"design pre-pledge {pp.status}")
    # A confirmation whose excess refund a killed worker never made (the vote deposit above the pledge's).
    for pp in (
        DesignPrePledge.objects.select_related("vote", "pledge", "campaign")
        .filter(status=PrePledgeStatus.CONFIRMED, pledge__isnull=False)
        .filter(vote__amount__gt=F("pledge__deposit_amount"))
        .exclude(
            pledge_id__in=LedgerTransaction.objects.filter(reference__endswith="-design-excess").values(
                "pledge_id"
            )
        )[:limit]
    ):
        _excess_refund(pp, pp.pledge, pp.vote.amount - pp.pledge.deposit_amount)
    return done
