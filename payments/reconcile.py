"""Compare the ledger's provider account with the provider's own records, reference by reference."""

from decimal import Decimal
from typing import Any

from django.db import connection

from core.db import is_postgresql
from payments.models import (
    Account,
    LedgerLeg,
    LedgerTransaction,
    Payment,
    PaymentStatus,
    SimulatedTransaction,
)
from payments.provider import payment_provider, simulated_configured


def reconcile(*, limit: int = 1000) -> dict[str, Any]:
    """Every reference where the ledger and the provider disagree (charges in flight aside)."""
    if simulated_configured():
        return _reconcile_sql(limit=limit)
    return _reconcile_records(limit=limit)


def _reconcile_sql(*, limit: int) -> dict[str, Any]:
    """Set-based, for the simulated provider whose books share our database."""
    txn, leg, sim, pay = (
        LedgerTransaction._meta.db_table,
        LedgerLeg._meta.db_table,
        SimulatedTransaction._meta.db_table,
        Payment._meta.db_table,
    )
    full_join = "FULL OUTER JOIN" if is_postgresql() else "LEFT JOIN"
    ledger_side = (
        f"SELECT t.reference AS reference, SUM(l.amount) AS amount FROM {txn} t "
        f"JOIN {leg} l ON l.transaction_id = t.id AND l.account = %s GROUP BY t.reference"
    )
    provider_side = (
        f"SELECT reference, SUM(CASE WHEN kind = 'charge' THEN amount ELSE -amount END) AS amount "
        f"FROM {sim} WHERE status = 'succeeded' GROUP BY reference"
    )
    in_flight = f"SELECT reference FROM {pay} WHERE status = %s"
    sql = (
        f"SELECT COALESCE(a.reference, b.reference), a.amount, b.amount FROM ({ledger_side}) a "
        f"{full_join} ({provider_side}) b ON a.reference = b.reference "
        f"WHERE (a.amount IS NULL OR b.amount IS NULL OR a.amount <> b.amount) "
        f"AND COALESCE(a.reference, b.reference) NOT IN ({in_flight})"
    )
    params = [Account.PROVIDER, PaymentStatus.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        if not is_postgresql():
            # SQLite has no FULL OUTER JOIN: the provider-only side separately.
            cursor.execute(
                f"SELECT b.reference, NULL, b.amount FROM ({provider_side}) b LEFT JOIN ({ledger_side}) a "
                f"ON a.reference = b.reference WHERE a.reference IS NULL AND b.reference NOT IN ({in_flight})",
                [Account.PROVIDER, PaymentStatus.PENDING],
            )
            rows += cursor.fetchall()
        cursor.execute(f"SELECT COUNT(*) FROM {txn}")
        transactions = cursor.fetchone()[0]
    return _report(rows, transactions, limit)


def _reconcile_records(*, limit: int) -> dict[str, Any]:
    """Any provider: stream its records and the ledger's provider legs into two maps."""
    provider: dict[str, Decimal] = {}
    for record in payment_provider().records():
        provider[record.reference] = provider.get(record.reference, Decimal(0)) + record.amount
    ledger: dict[str, Decimal] = {}
    for reference, amount in (
        LedgerLeg.objects.filter(account=Account.PROVIDER)
        .values_list("transaction__reference", "amount")
        .iterator(chunk_size=20000)
    ):
        ledger[reference] = ledger.get(reference, Decimal(0)) + amount
    pending = set(Payment.objects.filter(status=PaymentStatus.PENDING).values_list("reference", flat=True))
    rows = [
        (ref, ledger.get(ref), provider.get(ref))
        for ref in set(provider) | set(ledger)
        if ledger.get(ref) != provider.get(ref) and ref not in pending
    ]
    return _report(rows, LedgerTransaction.objects.count(), limit)


def _report(rows: list, transactions: int, limit: int) -> dict[str, Any]:
    differences = []
    for reference, ledger_amount, provider_amount in sorted(rows, key=lambda r: r[0])[:limit]:
        if ledger_amount is None:
            problem = "missing_in_ledger"
        elif provider_amount is None:
            problem = "missing_at_provider"
        else:
            problem = "amount_mismatch"
        differences.append(
            {
                "reference": reference,
                "problem": problem,
                "ledger": None if ledger_amount is None else str(Decimal(ledger_amount)),
                "provider": None if provider_amount is None else str(Decimal(provider_amount)),
            }
        )
    return {"transactions": transactions, "difference_count": len(rows), "differences": differences}
