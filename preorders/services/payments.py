"""Deposits and refunds through the payment provider, and the ledger that records them.

The provider is always called with no row locks held; the ledger row is written once per reference (a
unique constraint), so every step here is safe to rerun after a crash.
"""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.db import is_postgresql
from core.errors import DomainError
from fans.chat.models import Fan
from preorders.models import (
    Campaign,
    IdempotencyKey,
    LedgerEntry,
    LedgerKind,
    Pledge,
    PledgeStatus,
)
from preorders.payments import payment_provider
from preorders.services.reservation import release
from preorders.services.sql import column_values


class PaymentFailed(DomainError):
    code = "payment_failed"
    status = 402


def pledge_record_paid(
    *,
    pledge: Pledge,
    fan_id: int,
    reference: str,
    provider_id: str | None,
    key_record: int | None,
    body: dict[str, Any],
) -> int | None:
    """Pending to active, with the charge row, the fan's count and the key's answer (`body`).

    None if the pledge was swept meanwhile (nothing is written); otherwise the campaign's committed
    quantity now, for the progress frame. One statement on PostgreSQL, where every write depends on
    the activation having happened.
    """
    connection = transaction.get_connection()
    campaign_table = Campaign._meta.db_table
    updated_at = Pledge._meta.get_field("updated_at").get_db_prep_save(pledge.updated_at, connection)
    activate = (
        f"UPDATE {Pledge._meta.db_table} SET status = %s, updated_at = %s WHERE id = %s AND status = %s "
        f"RETURNING campaign_id"
    )
    params: list[Any] = [PledgeStatus.ACTIVE, updated_at, pledge.pk, PledgeStatus.PENDING]
    ledger_sql, ledger_params = "", []
    if provider_id is not None:
        ledger_columns, ledger_params = column_values(
            LedgerEntry,
            {
                "pledge": pledge.pk,
                "kind": LedgerKind.CHARGE,
                "amount": pledge.deposit_amount,
                "currency": pledge.currency,
                "reference": reference,
                "provider_id": provider_id,
                "note": "deposit",
                "created_at": pledge.updated_at,
            },
            connection,
        )
        ledger_sql = (
            f"INSERT INTO {LedgerEntry._meta.db_table} ({', '.join(ledger_columns)}) "
            f"SELECT {', '.join(['%s'] * len(ledger_columns))}"
        )
    fan_sql = f"UPDATE {Fan._meta.db_table} SET pledge_count = pledge_count + 1 WHERE id = %s"
    key_sql, key_params = f"UPDATE {IdempotencyKey._meta.db_table} SET response = %s WHERE id = %s", []
    if key_record is not None:
        key_params = [
            IdempotencyKey._meta.get_field("response").get_db_prep_save(body, connection),
            key_record,
        ]
    with connection.cursor() as cursor:
        if is_postgresql(connection):
            parts = [f"a AS ({activate})"]
            if ledger_sql:
                parts.append(f"l AS ({ledger_sql} FROM a)")
                params += ledger_params
            parts.append(f"f AS ({fan_sql} AND EXISTS (SELECT 1 FROM a) RETURNING id)")
            params.append(fan_id)
            if key_params:
                # The fan row before the key row, as in the plain sequence below: a twin request holding
                # the fan lock waits on our key row in its insert, so taking the key first would deadlock.
                parts.append(f"k AS ({key_sql} AND EXISTS (SELECT 1 FROM f))")
                params += key_params
            cursor.execute(
                f"WITH {', '.join(parts)} SELECT c.committed_quantity FROM a JOIN {campaign_table} c ON c.id = a.campaign_id",
                params,
            )
            row = cursor.fetchone()
            return None if row is None else row[0]
        cursor.execute(activate, params)
        if cursor.fetchone() is None:
            return None
        if ledger_sql:
            cursor.execute(ledger_sql, ledger_params)
        cursor.execute(fan_sql, [fan_id])
        if key_params:
            cursor.execute(key_sql, key_params)
        cursor.execute(f"SELECT committed_quantity FROM {campaign_table} WHERE id = %s", [pledge.campaign_id])
        return cursor.fetchone()[0]


def pledge_abandon(pledge: Pledge) -> None:
    """Undo a pending pledge whose deposit never went through: release quantity, delete it and its key."""
    with transaction.atomic(durable=True):
        deleted = Pledge.objects.filter(pk=pledge.pk, status=PledgeStatus.PENDING).exclude(
            pk__in=LedgerEntry.objects.values("pledge_id")
        )
        IdempotencyKey.objects.filter(pledge_id=pledge.pk).delete()
        if deleted.delete()[0]:
            release(pledge.campaign_id, pledge.quantity)


def pledges_pending_sweep(*, campaign_id: int | None = None, older_than_s: int = 120) -> int:
    """Pending pledges left by a crash between reserve and record: void their charge and undo them."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_s)
    qs = Pledge.objects.filter(status=PledgeStatus.PENDING, created_at__lt=cutoff)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    swept = 0
    for pledge in qs.order_by("pk")[:1000]:
        payment_provider().void(reference=f"pledge-{pledge.pk}-charge")
        pledge_abandon(pledge)
        swept += 1
    return swept


def net_paid(pledge_id: int) -> Decimal:
    rows = LedgerEntry.objects.filter(pledge_id=pledge_id).values("kind").annotate(total=Sum("amount"))
    totals = {r["kind"]: r["total"] for r in rows}
    return totals.get(LedgerKind.CHARGE, Decimal(0)) - totals.get(LedgerKind.REFUND, Decimal(0))


def ledger_refund(*, pledge: Pledge, amount: Decimal, reference: str, note: str) -> LedgerEntry | None:
    """Refund through the provider (no locks held) and record it once; safe to rerun with one reference."""
    if amount <= 0:
        return None
    existing = LedgerEntry.objects.filter(reference=reference).first()
    if existing is not None:
        return existing
    result = payment_provider().refund(
        reference=reference,
        charge_reference=f"pledge-{pledge.pk}-charge",
        amount=amount,
        currency=pledge.currency,
    )
    entry = LedgerEntry(
        pledge_id=pledge.pk,
        kind=LedgerKind.REFUND,
        amount=amount,
        currency=pledge.currency,
        reference=reference,
        provider_id=result.provider_id,
        note=note,
    )
    LedgerEntry.objects.bulk_create([entry], ignore_conflicts=True)
    return entry


def pledges_cancelled_refund(*, campaign_id: int) -> int:
    """Finish refunds of cancelled pledges interrupted by a crash (reruns find nothing to do)."""
    done = 0
    for pledge in (
        Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.CANCELLED)
        .exclude(ledger__reference__endswith="-cancel-refund")
        .order_by("pk")
    ):
        if ledger_refund(
            pledge=pledge,
            amount=net_paid(pledge.pk),
            reference=f"pledge-{pledge.pk}-cancel-refund",
            note="cancel",
        ):
            done += 1
    return done
