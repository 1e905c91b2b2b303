"""Co-design rounds (共创): create, launch, vote with a deposit, comment, decide at the deadline, confirm
or lapse the winners' pre-pledges, and assign a factory.

Money: a vote deposit is a payments.Payment of purpose "design_vote" (reference design-vote-<id>-charge),
charged through the provider and settled by its reply, its notification or the pending sweep
(design_vote_settled, registered in payments.hooks.payment_settled). It is posted to the ledger with the
shop as its dimension. A refund posts design-vote-<id>-refund once. When a winner confirms, the vote's
charge becomes part of the pledge's deposit: its ledger transaction takes the pledge (and campaign) as
dimensions, the difference is charged (pledge-<id>-charge) or the excess refunded
(pledge-<id>-design-excess), so the pledge's net paid equals its deposit. The provider is always called
with no row locks held, and every step is guarded by state and unique references: rerunning any of them
after a killed worker finishes the work without doing any of it twice.
"""

import datetime as dt
import hashlib
import logging
from collections import Counter
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from c2m.design import rules
from c2m.design.access import access_pre_pledge, access_round, access_round_as_fan, access_round_to_manage
from c2m.design.models import (
    DesignComment,
    DesignPrePledge,
    DesignRound,
    DesignVote,
    DesignVoteKey,
    DesignWinner,
    PrePledgeStatus,
    RoundStatus,
    VoteStatus,
)
from core.errors import Conflict, Invalid, NotFound, Unprocessable
from fans.chat.append import text_check
from fans.chat.models import Fan
from payments.ledger import cash_in, cash_out, ledger_has, ledger_post, ledger_post_many
from payments.models import LedgerTransaction, Payment, PaymentStatus, TransactionKind
from payments.provider import (
    SUCCEEDED,
    ChargeRequest,
    PaymentDeclined,
    PaymentError,
    PaymentTimeout,
    payment_provider,
)
from payments.services import PaymentInFlight, payment_start, payments_fail, payments_settle
from preorders.access import access_product_to_campaign
from preorders.models import Campaign, CampaignStatus, Pledge, PledgeStatus
from preorders.money import deposit_for
from preorders.selectors import campaign_tiers, unit_price_at
from preorders.services.campaigns import campaign_create, campaign_launch, deadline_clean
from preorders.services.events import progress_announce
from preorders.services.idempotency import key_clean
from preorders.services.payments import PaymentFailed, pledge_abandon
from preorders.services.pledge_rules import campaign_open_check
from preorders.services.reservation import pledge_reserve
from preorders.services.spend import pledges_spend_refresh
from shops.models import Factory, Variant

logger = logging.getLogger(__name__)

PURPOSE = "design_vote"
CONFIRM_WINDOW = dt.timedelta(hours=48)
# Votes whose charge is still unanswered this long after the deadline no longer hold the count back.
PENDING_GRACE = dt.timedelta(minutes=10)
MIN_CAMPAIGN_DAYS, MAX_CAMPAIGN_DAYS = 3, 60
BALANCE_AFTER = dt.timedelta(days=3)
COMMENT_MAX = 500


# --- creating and launching ------------------------------------------------------------------------------


def round_create(
    *,
    user: AbstractBaseUser,
    product_id: Any,
    title: Any,
    attributes: Any,
    target_per_combination: Any,
    vote_deposit: Any,
    deadline: Any,
    description: Any = "",
    campaign_deposit_percent: Any = None,
    campaign_days: Any = None,
) -> DesignRound:
    """A draft round for one of the shop's products (owner or manager). Nothing is stored on any error."""
    try:
        pk = int(product_id)
        if isinstance(product_id, bool) or not 0 < pk < 2**63:
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(_("Choose a product."), code="product_invalid") from None
    product = access_product_to_campaign(user, pk)
    title = (title if isinstance(title, str) else "").strip()[:200]
    if not title:
        raise Invalid(_("A design round needs a title."), code="title_invalid")
    description = (description if isinstance(description, str) else "").strip()[:2000]
    clean_attributes = rules.attributes_clean(attributes)
    target = rules.target_clean(target_per_combination)
    deposit = rules.deposit_clean(vote_deposit)
    when = deadline_clean(deadline)
    percent = Decimal("20")
    if campaign_deposit_percent not in (None, ""):
        try:
            percent = Decimal(str(campaign_deposit_percent))
        except ArithmeticError:
            percent = Decimal("NaN")
        if not percent.is_finite() or not 0 < percent <= 100 or percent != percent.quantize(Decimal("0.01")):
            raise Invalid(_("Enter a percentage between 0 and 100."), code="deposit_percent_invalid")
    days = 14
    if campaign_days not in (None, ""):
        try:
            days = int(campaign_days)
        except (TypeError, ValueError):
            days = 0
        if not MIN_CAMPAIGN_DAYS <= days <= MAX_CAMPAIGN_DAYS:
            raise Invalid(
                _("The campaigns run between %(a)d and %(b)d days.")
                % {"a": MIN_CAMPAIGN_DAYS, "b": MAX_CAMPAIGN_DAYS},
                code="campaign_days_invalid",
            )
    with transaction.atomic():
        return DesignRound.objects.create(
            shop=product.shop,
            product=product,
            title=title,
            description=description,
            attributes=clean_attributes,
            attribute_order=list(clean_attributes),
            target_per_combination=target,
            vote_deposit=deposit,
            deadline=when,
            campaign_deposit_percent=percent,
            campaign_days=days,
            created_by=user,
        )


def round_launch(*, user: AbstractBaseUser, round_id: Any) -> DesignRound:
    with transaction.atomic(durable=True):
        rnd = access_round_to_manage(user, round_id, lock=True)
        if rnd.status != RoundStatus.DRAFT:
            raise Conflict(_("Only a draft round can be launched."), code="not_draft")
        if rnd.deadline <= timezone.now():
            raise Conflict(_("The deadline has passed; create a new round."), code="deadline_past")
        rnd.status, rnd.launched_at = RoundStatus.LIVE, timezone.now()
        DesignRound.objects.filter(pk=rnd.pk).update(status=rnd.status, launched_at=rnd.launched_at)
    return rnd


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


# --- comments ----------------------------------------------------------------------------------------------


def comment_add(*, user: AbstractBaseUser, round_id: Any, text: Any) -> DesignComment:
    rnd, is_staff, fan = access_round(user, round_id)
    text = (text if isinstance(text, str) else "").strip()
    text_check(text)
    if len(text) > COMMENT_MAX:
        raise Invalid(_("A comment can have at most %(n)d characters.") % {"n": COMMENT_MAX}, code="too_long")
    if rnd.status == RoundStatus.CANCELLED:
        raise Conflict(_("This round was cancelled."), code="round_cancelled")
    with transaction.atomic():
        return DesignComment.objects.create(
            round=rnd, user=user, fan=None if is_staff else fan, is_staff=is_staff, text=text
        )


# --- deciding ----------------------------------------------------------------------------------------------


def tally(rnd: DesignRound) -> Counter[str]:
    """Paid votes per combination key: held, counted toward a pledge, or refunded after the count."""
    rows = (
        DesignVote.objects.filter(
            round=rnd, status__in=(VoteStatus.HELD, VoteStatus.CONVERTED, VoteStatus.REFUNDED)
        )
        .values("combination_key")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return Counter({r["combination_key"]: r["n"] for r in rows})


def _variant_for(rnd: DesignRound, winner: DesignWinner) -> Variant:
    """The product's variant whose name holds every option of the combination, or a new one."""
    options = [winner.combination[a] for a in rnd.ordered_attributes if a in winner.combination]
    for variant in rnd.product.variants.order_by("pk"):
        if all(o.lower() in variant.name.lower() for o in options):
            return variant
    return Variant.objects.create(
        product=rnd.product,
        name=" / ".join(options)[:100],
        sku=f"DR{rnd.pk}-{winner.pk}",
        price=rnd.product.price,
    )


def _winner_campaign(rnd: DesignRound, winner: DesignWinner, now: dt.datetime) -> None:
    """The winner's group campaign, once (the winner row is locked and set in the same transaction)."""
    with transaction.atomic(durable=True):
        winner = DesignWinner.objects.select_for_update().get(pk=winner.pk)
        if winner.campaign_id is not None:
            return
        variant = winner.variant or _variant_for(rnd, winner)
        deadline = now + dt.timedelta(days=rnd.campaign_days)
        moq = rnd.product.factory_product.moq if rnd.product.factory_product_id else 1
        label = rules.combination_label(winner.combination, rnd.ordered_attributes)
        campaign = campaign_create(
            user=rnd.shop.owner,
            kind="group",
            product_id=rnd.product_id,
            title=f"{rnd.title} · {label}"[:200],
            target_quantity=max(rnd.target_per_combination, moq),
            deadline=deadline,
            deposit_percent=rnd.campaign_deposit_percent,
            balance_deadline=deadline + BALANCE_AFTER if rnd.campaign_deposit_percent < 100 else None,
            variants=[variant.pk],
        )
        DesignWinner.objects.filter(pk=winner.pk).update(campaign=campaign, variant=variant)


def round_decide(*, round_id: int, now: dt.datetime | None = None) -> bool:
    """At the deadline: count, make the winners' campaigns, pre-pledge their voters, refund the rest.
    Safe to rerun from any point (state guard on the round, unique winner and pre-pledge rows)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        rnd = (
            DesignRound.objects.select_for_update()
            .select_related("shop", "product")
            .filter(pk=round_id)
            .first()
        )
        if rnd is None:
            return False
        if rnd.status == RoundStatus.LIVE:
            if rnd.deadline > now:
                return False
            if DesignVote.objects.filter(
                round=rnd, status=VoteStatus.PENDING, created_at__gt=now - PENDING_GRACE
            ).exists():
                return False  # a deposit's answer is still on its way: count it next minute
            counts = tally(rnd)
            by_key = {rules.combination_key(c): c for c in rules.combinations(rnd.ordered_attributes)}
            DesignWinner.objects.bulk_create(
                [
                    DesignWinner(round=rnd, combination=by_key[k], combination_key=k, votes=n)
                    for k, n in counts.items()
                    if n >= rnd.target_per_combination and k in by_key
                ],
                ignore_conflicts=True,
            )
            rnd.status = RoundStatus.DECIDING
            DesignRound.objects.filter(pk=rnd.pk).update(status=RoundStatus.DECIDING, decided_at=now)
        elif rnd.status != RoundStatus.DECIDING:
            return False
    decided_at = DesignRound.objects.values_list("decided_at", flat=True).get(pk=rnd.pk) or now
    for winner in rnd.winners.filter(campaign__isnull=True).order_by("pk"):
        _winner_campaign(rnd, winner, decided_at)
    for campaign in Campaign.objects.filter(design_winner__round=rnd, status=CampaignStatus.DRAFT):
        campaign_launch(user=rnd.shop.owner, campaign_id=campaign.pk)
    with transaction.atomic(durable=True):
        if (
            not DesignRound.objects.select_for_update()
            .filter(pk=rnd.pk, status=RoundStatus.DECIDING)
            .exists()
        ):
            return False
        pre = []
        for winner in rnd.winners.select_related("campaign"):
            for vote_id in DesignVote.objects.filter(
                round=rnd, status=VoteStatus.HELD, combination_key=winner.combination_key
            ).values_list("pk", flat=True):
                pre.append(
                    DesignPrePledge(
                        vote_id=vote_id,
                        winner=winner,
                        campaign=winner.campaign,
                        expires_at=decided_at + CONFIRM_WINDOW,
                    )
                )
        DesignPrePledge.objects.bulk_create(pre, ignore_conflicts=True)
        DesignRound.objects.filter(pk=rnd.pk).update(status=RoundStatus.DECIDED)
    votes_refund_unplaced(round_id=rnd.pk)
    return True


def votes_refund_unplaced(*, round_id: int | None = None, limit: int = 2000) -> int:
    """Refund held votes of decided (or cancelled) rounds that have no pre-pledge: the losers, and late
    deposits that settled after the count. Reruns find nothing left."""
    qs = DesignVote.objects.filter(
        status=VoteStatus.HELD,
        round__status__in=(RoundStatus.DECIDED, RoundStatus.CANCELLED),
        pre_pledge__isnull=True,
    )
    if round_id is not None:
        qs = qs.filter(round_id=round_id)
    done = 0
    for vote in qs.order_by("pk")[:limit]:
        done += vote_refund(vote, memo="design round: not chosen")
    return done


def rounds_decide_due(*, now: dt.datetime | None = None) -> int:
    """Beat: every live round past its deadline, and every round a killed worker left half-decided."""
    now = now or timezone.now()
    ids = list(
        DesignRound.objects.filter(status=RoundStatus.LIVE, deadline__lte=now).values_list("pk", flat=True)[
            :200
        ]
    ) + list(DesignRound.objects.filter(status=RoundStatus.DECIDING).values_list("pk", flat=True)[:200])
    decided = 0
    for pk in ids:
        try:
            decided += round_decide(round_id=pk, now=now)
        except Exception:  # one bad round must not hold the others back; it is retried next minute
            logger.exception("design round %s: deciding failed", pk)
    votes_refund_unplaced()
    return decided


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


# --- factory -----------------------------------------------------------------------------------------------


def round_factory_assign(*, round_id: int, factory_id: int) -> DesignRound:
    """Platform admin: the decided round's winners go to this factory (its board lists them)."""
    with transaction.atomic():
        rnd = DesignRound.objects.select_for_update().filter(pk=round_id).first()
        if rnd is None:
            raise NotFound()
        if rnd.status != RoundStatus.DECIDED:
            raise Conflict(_("Only a decided round goes to a factory."), code="not_decided")
        if not Factory.objects.filter(pk=factory_id).exists():
            raise Invalid(_("Choose a factory from the list."), code="factory_invalid")
        rnd.factory_id, rnd.factory_assigned_at = factory_id, timezone.now()
        DesignRound.objects.filter(pk=rnd.pk).update(
            factory_id=factory_id, factory_assigned_at=rnd.factory_assigned_at
        )
    return rnd
