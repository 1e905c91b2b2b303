"""Charges we start (balance, cycle) and how their outcome lands: the reply, the webhook or the sweep.

A Payment row is written (and committed) before the provider is called, so a notification always finds
it. Whichever of the synchronous reply, the notification (possibly before the reply, possibly twice) or
the pending sweep comes first settles it; the status guard makes the rest no-ops. Settling posts the
ledger transaction and calls the purpose's handler (payments.hooks) in the same transaction.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import is_postgresql
from payments.hooks import payment_settled
from payments.ledger import cash_in, ledger_post_many
from payments.models import LedgerTransaction, Payment, PaymentStatus, TransactionKind
from payments.provider import (
    SUCCEEDED,
    ChargeRequest,
    Notification,
    PaymentDeclined,
    PaymentError,
    PaymentTimeout,
    payment_provider,
)

logger = logging.getLogger(__name__)

# The ledger kind of each purpose's charge. A co-design vote deposit (c2m, "design_vote") is a deposit.
PURPOSE_KINDS = {
    "balance": TransactionKind.BALANCE,
    "cycle": TransactionKind.CYCLE_CHARGE,
    "design_vote": TransactionKind.DEPOSIT,
}


class PaymentInFlight(Exception):
    """A live (pending or paid) payment already exists for this subject."""


def payment_start(
    *,
    purpose: str,
    reference: str,
    user_id: int,
    amount: Decimal,
    currency: str = "CNY",
    shop_id: int | None = None,
    campaign_id: int | None = None,
    pledge_id: int | None = None,
    subject_id: int,
    attempt: int = 1,
    idempotency_key: str | None = None,
) -> Payment:
    """Record the charge we are about to ask for; joins the caller's transaction."""
    try:
        with transaction.atomic():
            return Payment.objects.create(
                purpose=purpose,
                reference=reference,
                user_id=user_id,
                amount=amount,
                currency=currency,
                shop_id=shop_id,
                campaign_id=campaign_id,
                pledge_id=pledge_id,
                subject_id=subject_id,
                attempt=attempt,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        raise PaymentInFlight(reference) from None


def payments_charge(payments: list[Payment]) -> dict[str, str]:
    """Ask the provider for every payment (no locks held) and apply the synchronous answers.

    Returns reference -> "succeeded" | "pending" | "failed" as known after the replies.
    """
    if not payments:
        return {}
    provider = payment_provider()
    requests = [ChargeRequest(p.reference, p.amount, p.currency, p.user_id) for p in payments]
    if len(requests) == 1:
        try:
            answers: list[Any] = [provider.charge(requests[0])]
        except PaymentError as exc:
            answers = [exc]
    else:
        answers = provider.charge_many(requests)
    settled: list[tuple[str, str]] = []
    declined: list[str] = []
    for p, answer in zip(payments, answers, strict=True):
        if isinstance(answer, PaymentDeclined):
            declined.append(p.reference)
        elif isinstance(answer, PaymentTimeout | PaymentError):
            logger.warning(
                "payment %s: no answer from the provider (%s); the notification or sweep settles it",
                p.reference,
                answer,
            )
        elif answer.status == SUCCEEDED:
            settled.append((p.reference, answer.provider_id))
    if settled:
        payments_settle(settled)
    if declined:
        payments_fail(declined, code="declined")
    return dict(
        Payment.objects.filter(reference__in=[p.reference for p in payments]).values_list(
            "reference", "status"
        )
    )


def payments_settle(items: Iterable[tuple[str, str]]) -> int:
    """Mark pending payments paid (once), post their ledger transactions and run the purpose handlers."""
    provider_ids = dict(items)
    if not provider_ids:
        return 0
    with transaction.atomic():
        rows = _settle_rows(provider_ids)
        if not rows:
            return 0
        ledger_post_many(
            cash_in(
                PURPOSE_KINDS[p.purpose],
                p.reference,
                p.amount,
                currency=p.currency,
                shop_id=p.shop_id,
                campaign_id=p.campaign_id,
                pledge_id=p.pledge_id,
                provider_id=p.provider_id,
            )
            for p in rows
        )
        _handlers_run(rows, [])
    return len(rows)


_SETTLE_FIELDS = (
    "id",
    "purpose",
    "reference",
    "user_id",
    "amount",
    "currency",
    "shop_id",
    "campaign_id",
    "pledge_id",
    "subject_id",
    "attempt",
    "provider_id",
)


def _settle_rows(provider_ids: dict[str, str]) -> list[Payment]:
    """Pending to succeeded, guarded by status: the rows this call moved (a second notification gets none)."""
    now = timezone.now()
    if not is_postgresql():
        rows = list(
            Payment.objects.select_for_update()
            .filter(reference__in=list(provider_ids), status=PaymentStatus.PENDING)
            .order_by("pk")
        )
        for p in rows:
            p.status, p.provider_id, p.updated_at = PaymentStatus.SUCCEEDED, provider_ids[p.reference], now
        Payment.objects.bulk_update(rows, ["status", "provider_id", "updated_at"], batch_size=2000)
        return rows
    # One statement per 2000 (a notification batch): UPDATE ... FROM VALUES ... RETURNING.
    table = Payment._meta.db_table
    out: list[Payment] = []
    items = sorted(provider_ids.items())
    with transaction.get_connection().cursor() as cursor:
        for start in range(0, len(items), 2000):
            chunk = items[start : start + 2000]
            cursor.execute(
                f"UPDATE {table} AS p SET status = %s, updated_at = %s, "
                f"provider_id = CASE WHEN v.pid = '' THEN p.provider_id ELSE v.pid END "
                f"FROM unnest(%s::varchar[], %s::varchar[]) AS v(ref, pid) WHERE p.reference = v.ref AND p.status = %s "
                f"RETURNING {', '.join('p.' + f for f in _SETTLE_FIELDS)}",
                [
                    PaymentStatus.SUCCEEDED,
                    now,
                    [r for r, _p in chunk],
                    [p or "" for _r, p in chunk],
                    PaymentStatus.PENDING,
                ],
            )
            for row in cursor.fetchall():
                p = Payment(**dict(zip(_SETTLE_FIELDS, row, strict=True)))
                p.status = PaymentStatus.SUCCEEDED
                out.append(p)
    return out


def payments_fail(references: Iterable[str], *, code: str) -> int:
    references = list(references)
    with transaction.atomic():
        rows = list(
            Payment.objects.select_for_update()
            .filter(reference__in=references, status=PaymentStatus.PENDING)
            .order_by("pk")
        )
        if not rows:
            return 0
        now = timezone.now()
        for p in rows:
            p.status, p.failure_code, p.updated_at = PaymentStatus.FAILED, code, now
        Payment.objects.bulk_update(rows, ["status", "failure_code", "updated_at"], batch_size=2000)
        _handlers_run([], rows)
    return len(rows)


def _handlers_run(succeeded: list[Payment], failed: list[Payment]) -> None:
    by_purpose: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for p in succeeded:
        by_purpose[p.purpose][0].append(p)
    for p in failed:
        by_purpose[p.purpose][1].append(p)
    for purpose, (ok, bad) in by_purpose.items():
        handler = payment_settled.get(purpose)
        if handler is not None:
            handler(ok, bad)


def notifications_apply(notifications: Iterable[Notification]) -> int:
    """Apply verified notifications: idempotent by reference (a second one finds nothing pending)."""
    charges = [n for n in notifications if n.kind == "charge" and n.status == SUCCEEDED]
    if not charges:
        return 0
    done = payments_settle((n.reference, n.provider_id) for n in charges)
    if done == len({n.reference for n in charges}):
        return done  # every one settled now: nothing unknown to look for
    known = set(
        Payment.objects.filter(reference__in=[n.reference for n in charges]).values_list(
            "reference", flat=True
        )
    ) | set(
        LedgerTransaction.objects.filter(reference__in=[n.reference for n in charges]).values_list(
            "reference", flat=True
        )
    )
    for n in charges:
        if n.reference not in known:
            # A deposit whose pledge was undone after a timeout: reconcile lists it; the sweep voided it.
            logger.warning("payment notification for unknown reference %s (%s)", n.reference, n.provider_id)
    return done


def notification_receive(*, headers: dict[str, str], body: bytes) -> Notification:
    """The webhook: verify (BadNotification propagates), then apply. Safe to receive twice."""
    notification = payment_provider().notification_parse(headers=headers, body=body)
    notifications_apply([notification])
    return notification


def notifications_receive_many(calls: list[tuple[dict[str, str], bytes]]) -> int:
    """Many webhook calls verified one by one and applied together (the simulated provider's batches)."""
    provider = payment_provider()
    parsed = [provider.notification_parse(headers=h, body=b) for h, b in calls]
    return notifications_apply(parsed)


def payments_pending_sweep(*, older_than_s: int = 120, limit: int = 2000) -> int:
    """Pending payments whose answer never came: ask the provider, settle or fail them."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_s)
    pending = list(
        Payment.objects.filter(status=PaymentStatus.PENDING, created_at__lt=cutoff).order_by("pk")[:limit]
    )
    provider = payment_provider()
    settled, failed = [], []
    for p in pending:
        status = provider.query(reference=p.reference)
        if status == SUCCEEDED:
            settled.append((p.reference, ""))
        elif status in (None, "declined"):
            failed.append(p.reference)
    return payments_settle(settled) + payments_fail(failed, code="no_answer")
