"""Votes: a deposit per vote through the money loop (Payment purpose design_vote), moving a vote, refunds."""

import hashlib
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from c2m.design import rules
from c2m.design.access import access_round_as_fan
from c2m.design.models import (
    DesignPrePledge,
    DesignRound,
    DesignVote,
    DesignVoteKey,
    RoundStatus,
    VoteStatus,
)
from c2m.design.services.constants import PURPOSE
from core.errors import Conflict, Unprocessable
from payments.ledger import cash_out, ledger_has, ledger_post
from payments.models import Payment, PaymentStatus, TransactionKind
from payments.provider import (
    SUCCEEDED,
    ChargeRequest,
    PaymentDeclined,
    PaymentError,
    payment_provider,
)
from payments.services import PaymentInFlight, payment_start, payments_fail, payments_settle
from preorders.services.idempotency import key_clean
from preorders.services.payments import PaymentFailed

logger = logging.getLogger(__name__)


# --- voting ------------------------------------------------------------------------------------------------


def vote_to_dict(vote: DesignVote) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": vote.pk,
        "round": vote.round_id,
        "combination": vote.combination,
        "amount": str(vote.amount),
        "currency": vote.currency,
        "status": vote.status,
        "created_at": vote.created_at.isoformat() if vote.created_at else None,
    }
    pp = DesignPrePledge.objects.filter(vote_id=vote.pk).first()
    if pp is not None:
        out["pre_pledge"] = {
            "id": pp.pk,
            "campaign": pp.campaign_id,
            "status": pp.status,
            "expires_at": pp.expires_at.isoformat(),
            "pledge": pp.pledge_id,
        }
    return out


def _fingerprint(round_id: int, combination: Any) -> str:
    body = rules.combination_key(combination) if isinstance(combination, dict) else repr(combination)
    return hashlib.sha256(f"{round_id}:{body}".encode()).hexdigest()


def _replay(record: DesignVoteKey, fingerprint: str) -> dict[str, Any]:
    if record.request_hash != fingerprint:
        raise Unprocessable(
            _("This Idempotency-Key was used with a different request."), code="idempotency_key_reused"
        )
    if record.vote_id is None:
        raise Conflict(
            _("A request with this Idempotency-Key is still in progress."), code="idempotency_in_progress"
        )
    return vote_to_dict(DesignVote.objects.get(pk=record.vote_id))


def vote_place(
    *, user: AbstractBaseUser, round_id: Any, combination: Any, idempotency_key: str | None = None
) -> tuple[dict[str, Any], bool]:
    """A fan votes for a combination and pays the vote deposit; (vote, created).

    A fan with a vote already moves it to the new combination (no second deposit). The same
    Idempotency-Key returns the first answer; a different body with it is refused (422)."""
    rnd, fan = access_round_as_fan(user, round_id)
    key = key_clean(idempotency_key)
    fingerprint = _fingerprint(rnd.pk, combination)
    if key:
        record = DesignVoteKey.objects.filter(user=user, key=key).first()
        if record is not None:
            return _replay(record, fingerprint), False
    if rnd.status != RoundStatus.LIVE:
        raise Conflict(_("This round is not taking votes."), code="round_not_live")
    if rnd.deadline <= timezone.now():
        raise Conflict(_("Voting has closed."), code="round_closed")
    combo = rules.combination_clean(rnd.ordered_attributes, combination)
    ckey = rules.combination_key(combo)
    payment = None
    try:
        with transaction.atomic(durable=True):
            # The round row orders this against the decide step: no vote moves once counting starts.
            locked = DesignRound.objects.select_for_update().filter(pk=rnd.pk).values("status", "deadline")[0]
            if locked["status"] != RoundStatus.LIVE or locked["deadline"] <= timezone.now():
                raise Conflict(_("Voting has closed."), code="round_closed")
            vote = (
                DesignVote.objects.select_for_update()
                .filter(round=rnd, fan=fan, status__in=(VoteStatus.PENDING, VoteStatus.HELD))
                .first()
            )
            created = vote is None
            if vote is not None:
                if vote.status == VoteStatus.PENDING:
                    raise Conflict(
                        _("Your vote deposit is still being paid; try again in a moment."),
                        code="vote_in_progress",
                    )
                vote.combination, vote.combination_key = combo, ckey
                DesignVote.objects.filter(pk=vote.pk).update(
                    combination=combo, combination_key=ckey, updated_at=timezone.now()
                )
            else:
                vote = DesignVote.objects.create(
                    round=rnd,
                    fan=fan,
                    user=user,
                    combination=combo,
                    combination_key=ckey,
                    amount=rnd.vote_deposit,
                    currency=rnd.product.currency,
                )
                payment = payment_start(
                    purpose=PURPOSE,
                    reference=vote.charge_reference,
                    user_id=user.pk,
                    amount=vote.amount,
                    currency=vote.currency,
                    shop_id=rnd.shop_id,
                    subject_id=vote.pk,
                )
            if key:
                DesignVoteKey.objects.create(user=user, key=key, request_hash=fingerprint, vote=vote)
    except IntegrityError:
        # A twin request with the same key (or the same fan's first vote) got in first.
        record = DesignVoteKey.objects.filter(user=user, key=key).first() if key else None
        if record is not None:
            return _replay(record, fingerprint), False
        raise Conflict(
            _("Your vote is already being recorded; try again in a moment."), code="vote_in_progress"
        ) from None
    except PaymentInFlight:
        raise Conflict(_("Your vote is already being recorded."), code="vote_in_progress") from None
    if payment is not None and _vote_charge(payment) == PaymentStatus.FAILED:
        raise PaymentFailed(_("The vote deposit could not be charged; nothing was stored."))
    vote.refresh_from_db()
    return vote_to_dict(vote), created


def _vote_charge(payment: Payment) -> str:
    """Charge the vote deposit with the fan on the page (wait for the answer), no locks held. A timeout
    leaves the payment pending: the provider's notification or the pending sweep settles it."""
    try:
        reply = payment_provider().charge(
            ChargeRequest(payment.reference, payment.amount, payment.currency, payment.user_id), wait=True
        )
    except PaymentDeclined:
        payments_fail([payment.reference], code="declined")
        return PaymentStatus.FAILED
    except PaymentError as exc:
        logger.warning(
            "vote deposit %s: no answer (%s); the notification or sweep settles it", payment.reference, exc
        )
        return PaymentStatus.PENDING
    if reply.status == SUCCEEDED:
        payments_settle([(payment.reference, reply.provider_id)])
        return PaymentStatus.SUCCEEDED
    return PaymentStatus.PENDING


def design_vote_settled(succeeded: list[Payment], failed: list[Payment]) -> None:
    """payments.hooks.payment_settled["design_vote"]: a vote's deposit landed (held) or did not (failed;
    its Idempotency-Key is freed so the fan may try again). Inside the settling transaction."""
    if succeeded:
        DesignVote.objects.filter(pk__in=[p.subject_id for p in succeeded], status=VoteStatus.PENDING).update(
            status=VoteStatus.HELD, updated_at=timezone.now()
        )
    if failed:
        ids = [p.subject_id for p in failed]
        DesignVote.objects.filter(pk__in=ids, status=VoteStatus.PENDING).update(
            status=VoteStatus.FAILED, updated_at=timezone.now()
        )
        DesignVoteKey.objects.filter(vote_id__in=ids).delete()


def vote_refund(vote: DesignVote, *, memo: str) -> bool:
    """Give a held vote deposit back (provider, then ledger, once per reference); True if it moved now."""
    reference = f"design-vote-{vote.pk}-refund"
    if not ledger_has(vote.charge_reference):
        return False  # never posted: nothing to give back (a pending charge settles first)
    moved = False
    if not ledger_has(reference):
        result = payment_provider().refund(
            reference=reference,
            charge_reference=vote.charge_reference,
            amount=vote.amount,
            currency=vote.currency,
        )
        shop_id = DesignRound.objects.filter(pk=vote.round_id).values_list("shop_id", flat=True).first()
        moved = ledger_post(
            cash_out(
                TransactionKind.REFUND,
                reference,
                vote.amount,
                currency=vote.currency,
                shop_id=shop_id,
                provider_id=result.provider_id,
                memo=memo,
            )
        )
    DesignVote.objects.filter(pk=vote.pk, status=VoteStatus.HELD).update(
        status=VoteStatus.REFUNDED, refunded_at=timezone.now(), updated_at=timezone.now()
    )
    return moved
