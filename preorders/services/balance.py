"""The balance (尾款): collected from each confirmed pledge before the balance deadline, or the pledge lapses.

Paying: a Payment row (payments app) is committed before the provider is called; the reply, the signed
notification (which may come first, or twice) or the pending sweep settles it, and `balance_settled`
(registered for the "balance" purpose) marks the pledge paid in that same transaction. At the balance
deadline the lapse sweep handles every unpaid pledge by the campaign's rule (forfeit or refund), in
chunks guarded by status with one ledger reference per pledge, so a killed worker's rerun finishes it.
"""

import datetime as dt
import functools
import logging
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Unprocessable
from payments.ledger import Posting, ledger_post_many, pledges_cash
from payments.models import Account, Payment, PaymentStatus, TransactionKind
from payments.services import PaymentInFlight, payment_start, payments_charge
from preorders.access import access_pledge
from preorders.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    LapseRule,
    Pledge,
    PledgeStatus,
)
from preorders.services.idempotency import key_clean
from preorders.services.notices import pledge_tell
from preorders.services.payments import PaymentFailed
from preorders.services.pledge_rules import pledge_to_dict

logger = logging.getLogger(__name__)

CHUNK = 2000
REMINDERS = ((1, dt.timedelta(hours=24)), (2, dt.timedelta(hours=2)))


def _after_chunk(campaign_id: int, done: int) -> None:
    """Test seam: a lapse sweep that is killed mid-way raises here."""


def balance_reference(pledge_id: int, attempt: int) -> str:
    return f"pledge-{pledge_id}-balance-{attempt}"


def _answer(pledge: Pledge, payment: Payment | None) -> dict[str, Any]:
    body = pledge_to_dict(pledge)
    paid = pledge.status == PledgeStatus.PAID
    body.update(
        {
            "pledge": pledge.pk,
            "status": "paid" if paid else "pending",
            "pledge_status": pledge.status,
            "payment": None
            if payment is None
            else {"reference": payment.reference, "status": payment.status, "amount": str(payment.amount)},
        }
    )
    return body


def balance_pay(*, user: AbstractBaseUser, pledge_id: int, idempotency_key: str | None) -> tuple[dict, bool]:
    """A fan pays the whole balance of a confirmed pledge. Returns (answer, created).

    The same Idempotency-Key returns the first payment's state; a second payment of a paid pledge is 409
    already_paid; after the balance deadline 409 balance_deadline_passed. A declined charge is 402 and the
    fan may try again (a new attempt, a new provider reference).
    """
    key = key_clean(idempotency_key)
    pledge = access_pledge(user, pledge_id)  # someone else's pledge: 404
    if key:
        earlier = Payment.objects.filter(user=user, idempotency_key=key).first()
        if earlier is not None:
            if earlier.purpose != "balance" or earlier.pledge_id != pledge.pk:
                raise Unprocessable(
                    _("This Idempotency-Key was used for another request."), code="idempotency_key_reused"
                )
            pledge.refresh_from_db()
            return _answer(pledge, earlier), False
    campaign = pledge.campaign
    if pledge.status == PledgeStatus.PAID:
        raise Conflict(_("This pledge is already paid in full."), code="already_paid")
    if pledge.status != PledgeStatus.CONFIRMED or campaign.kind != CampaignKind.GROUP:
        raise Conflict(
            _("Only a confirmed pledge has a balance to pay."),
            code="pledge_not_payable",
            detail={"status": pledge.status},
        )
    # A place offered from the waitlist after a top-up is paid by the (later) top-up deadline.
    deadlines = [d for d in (campaign.balance_deadline, campaign.topup_deadline) if d is not None]
    if deadlines and timezone.now() >= max(deadlines):
        raise Conflict(_("The balance deadline has passed."), code="balance_deadline_passed")
    live = Payment.objects.filter(
        purpose="balance", subject_id=pledge.pk, status__in=[PaymentStatus.PENDING, PaymentStatus.SUCCEEDED]
    ).first()
    if live is not None:
        return _answer(pledge, live), False
    attempt = Payment.objects.filter(purpose="balance", subject_id=pledge.pk).count() + 1
    try:
        with transaction.atomic(durable=True):
            payment = payment_start(
                purpose="balance",
                reference=balance_reference(pledge.pk, attempt),
                user_id=user.pk,
                amount=pledge.balance_due,
                currency=pledge.currency,
                shop_id=campaign.shop_id,
                campaign_id=campaign.pk,
                pledge_id=pledge.pk,
                subject_id=pledge.pk,
                attempt=attempt,
                idempotency_key=key,
            )
    except PaymentInFlight:
        live = Payment.objects.filter(purpose="balance", subject_id=pledge.pk).order_by("-pk").first()
        return _answer(pledge, live), False
    payments_charge([payment])  # no locks held
    payment.refresh_from_db()
    pledge.refresh_from_db()
    if payment.status == PaymentStatus.FAILED:
        raise PaymentFailed(
            _("The balance could not be charged; nothing was paid. Please try again."), code="payment_failed"
        )
    return _answer(pledge, payment), True


def balance_settled(succeeded: list[Payment], failed: list[Payment]) -> None:
    """payments.hooks handler for "balance": inside the settling transaction."""
    now = timezone.now()
    if succeeded:
        ids = [p.pledge_id for p in succeeded]
        Pledge.objects.filter(pk__in=ids, status=PledgeStatus.CONFIRMED).update(
            status=PledgeStatus.PAID, paid_at=now, updated_at=now
        )
    # One task per settled batch, not per fan: a run of 100k balances queues tens of notices, not 100k
    # tasks ahead of the provider's next notifications.
    for what, rows in (("balance_paid", succeeded), ("balance_failed", failed)):
        ids = [p.pledge_id for p in rows]
        for start in range(0, len(ids), TELL_BATCH):
            transaction.on_commit(functools.partial(_tell_fans_task, ids[start : start + TELL_BATCH], what))


TELL_BATCH = 500


def _tell_fans_task(pledge_ids: list[int], what: str) -> None:
    from preorders.tasks import pledges_tell_task

    pledges_tell_task.delay(pledge_ids, what)


# --- reminders ---------------------------------------------------------------------------------------


def balance_reminders_run(*, now: dt.datetime | None = None) -> int:
    """Beat entry: the 24 h and 2 h reminders of every open balance window (transactional: no attention
    budget, but they wait for the shop's quiet hours to end; a reminder that would land after the
    deadline is dropped)."""
    from fans.bot.services.budget import quiet_hours_now

    now = now or timezone.now()
    sent = 0
    for number, ahead in REMINDERS:
        due = Campaign.objects.select_related("shop").filter(
            kind=CampaignKind.GROUP,
            status=CampaignStatus.SUCCEEDED,
            closed_at__isnull=False,
            lapsed_at__isnull=True,
            balance_deadline__gt=now,
            balance_deadline__lte=now + ahead,
            balance_reminded__lt=number,
        )
        for campaign in due:
            if quiet_hours_now(campaign.shop, now):
                continue  # the next run after quiet hours sends it, if the deadline has not come
            told = 0
            unpaid = Pledge.objects.filter(campaign=campaign, status=PledgeStatus.CONFIRMED).order_by("pk")
            for pid in unpaid.values_list("pk", flat=True).iterator():
                told += pledge_tell(pledge_id=pid, what="balance_reminder", key=f":{number}")
            Campaign.objects.filter(pk=campaign.pk, balance_reminded__lt=number).update(
                balance_reminded=number
            )
            sent += told
    return sent


# --- the balance deadline ------------------------------------------------------------------------------


def balance_lapse_run(*, campaign_id: int, chunk_size: int | None = None) -> bool:
    """At the balance deadline: every unpaid (confirmed) pledge lapses by the campaign's rule. True when the
    campaign's lapse is complete. Chunks commit one by one; a killed run is finished by the next."""
    from preorders.services.settlement import _fan_counters_apply

    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.kind != CampaignKind.GROUP or campaign.status != CampaignStatus.SUCCEEDED:
        return False
    if campaign.closed_at is None or campaign.lapsed_at is not None:
        return campaign.lapsed_at is not None
    if campaign.balance_deadline is not None and campaign.balance_deadline > timezone.now():
        return False
    if Payment.objects.filter(
        purpose="balance", campaign_id=campaign_id, status=PaymentStatus.PENDING
    ).exists():
        return False  # a charge in flight settles first (the payments sweep asks the provider)
    size = chunk_size or CHUNK
    refund = campaign.lapse_rule == LapseRule.REFUND
    while True:
        chunk = list(
            Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.CONFIRMED)
            .order_by("pk")
            .values("pk", "fan_id", "quantity", "currency")[:size]
        )
        if not chunk:
            break
        cash = pledges_cash([p["pk"] for p in chunk])
        postings = []
        if refund:
            from payments.ledger import cash_out
            from payments.provider import payment_provider

            provider = payment_provider()
            for p in chunk:
                amount = cash.get(p["pk"], Decimal(0))
                if amount <= 0:
                    continue
                reference = f"pledge-{p['pk']}-lapse-refund"
                reply = provider.refund(
                    reference=reference,
                    charge_reference=f"pledge-{p['pk']}-charge",
                    amount=amount,
                    currency=p["currency"],
                )
                postings.append(
                    cash_out(
                        TransactionKind.REFUND,
                        reference,
                        amount,
                        currency=p["currency"],
                        shop_id=campaign.shop_id,
                        campaign_id=campaign_id,
                        pledge_id=p["pk"],
                        provider_id=reply.provider_id,
                        memo="lapse",
                    )
                )
        else:
            for p in chunk:
                amount = cash.get(p["pk"], Decimal(0))
                if amount > 0:
                    postings.append(
                        Posting(
                            TransactionKind.FORFEIT,
                            f"pledge-{p['pk']}-forfeit",
                            amount,
                            [(Account.FANS_HELD, amount), (Account.FORFEITED, -amount)],
                            currency=p["currency"],
                            shop_id=campaign.shop_id,
                            campaign_id=campaign_id,
                            pledge_id=p["pk"],
                            memo="balance unpaid",
                        )
                    )
        with transaction.atomic(durable=True):
            ledger_post_many(postings)
            ids = [p["pk"] for p in chunk]
            moved = list(
                Pledge.objects.filter(pk__in=ids, status=PledgeStatus.CONFIRMED)
                .select_for_update()
                .order_by("pk")
                .values_list("pk", "fan_id", "quantity", "final_unit_price")
            )
            Pledge.objects.filter(pk__in=[m[0] for m in moved]).update(
                status=PledgeStatus.LAPSED, updated_at=timezone.now()
            )
            units = sum(m[2] for m in moved)
            if units:
                Campaign.objects.filter(pk=campaign_id, committed_quantity__gte=units).update(
                    committed_quantity=F("committed_quantity") - units
                )
            counts: dict[int, int] = {}
            for _pk, fan_id, _quantity, _price in moved:
                counts[fan_id] = counts.get(fan_id, 0) - 1
            # 消费 follows the refund postings (preorders.services.spend), not the order value.
            _fan_counters_apply({}, counts)
        _after_chunk(campaign_id, len(chunk))
    with transaction.atomic(durable=True):
        done = Campaign.objects.filter(pk=campaign_id, lapsed_at__isnull=True).update(
            lapsed_at=timezone.now()
        )
        if done:
            from core.events import announce
            from preorders.tasks import campaign_after_lapse_task

            lapsed = Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.LAPSED).count()
            announce(
                [f"shop.{campaign.shop_id}"],
                {"type": "campaign.lapsed", "campaign": campaign_id, "lapsed": lapsed},
            )
            campaign_after_lapse_task.delay_on_commit(campaign_id)
    return True


def balance_lapses_due() -> list[int]:
    """Beat entry: every succeeded campaign whose balance deadline has passed and is not lapsed yet."""
    due = list(
        Campaign.objects.filter(
            kind=CampaignKind.GROUP,
            status=CampaignStatus.SUCCEEDED,
            closed_at__isnull=False,
            lapsed_at__isnull=True,
        )
        .filter(Q(balance_deadline__isnull=True) | Q(balance_deadline__lte=timezone.now()))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for campaign_id in due:
        try:
            balance_lapse_run(campaign_id=campaign_id)
        except Exception:  # noqa: BLE001 - the next run retries; one campaign must not block the others
            logger.exception("balance lapse of campaign %s failed", campaign_id)
    return due
