"""Posting to the double-entry ledger, and reading statements from it.

A Posting is one money movement: its legs sum to zero (debits positive). `ledger_post_many` writes many
at once, set-based, once per reference (a retry, a second notification or a rerun after a killed worker
posts nothing new). Joins the caller's transaction: the posting commits with the state change it records.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.db import is_postgresql
from payments.models import CHARGE_KINDS, Account, LedgerLeg, LedgerTransaction, TransactionKind

BATCH = 1000


class Unbalanced(ValueError):
    """A posting whose legs do not sum to zero (a programming error: nothing is written)."""


_KINDS = frozenset(TransactionKind.values)
_ACCOUNTS = frozenset(Account.values)


@dataclass
class Posting:
    kind: str
    reference: str
    amount: Decimal
    legs: list[tuple[str, Decimal]]
    currency: str = "CNY"
    shop_id: int | None = None
    campaign_id: int | None = None
    pledge_id: int | None = None
    factory_id: int | None = None
    provider_id: str = ""
    memo: str = ""
    created_at: Any = field(default=None)

    def check(self) -> None:
        if self.kind not in _KINDS:
            raise Unbalanced(f"unknown kind {self.kind}")
        if self.amount <= 0:
            raise Unbalanced(f"{self.reference}: amount must be positive")
        total = Decimal(0)
        for account, amount in self.legs:
            if account not in _ACCOUNTS:
                raise Unbalanced(f"{self.reference}: unknown account {account}")
            if amount == 0:
                raise Unbalanced(f"{self.reference}: a leg of zero")
            total += amount
        if total != 0 or len(self.legs) < 2:
            raise Unbalanced(f"{self.reference}: legs sum to {total}")


def cash_in(kind: str, reference: str, amount: Decimal, **dims: Any) -> Posting:
    """A fan pays: the provider holds the cash, we owe it to the fan until release."""
    return Posting(
        kind, reference, amount, [(Account.PROVIDER, amount), (Account.FANS_HELD, -amount)], **dims
    )


def cash_out(
    kind: str, reference: str, amount: Decimal, *, source: str = Account.FANS_HELD, **dims: Any
) -> Posting:
    """Money back to a fan through the provider, out of `source` (held money, or a payable)."""
    return Posting(kind, reference, amount, [(source, amount), (Account.PROVIDER, -amount)], **dims)


_TXN_COLUMNS = [
    "kind",
    "reference",
    "amount",
    "currency",
    "shop_id",
    "campaign_id",
    "pledge_id",
    "factory_id",
    "provider_id",
    "memo",
    "created_at",
]


# PostgreSQL types of _TXN_COLUMNS, for the unnest() insert.
_TXN_TYPES = (
    "varchar",
    "varchar",
    "numeric",
    "varchar",
    "bigint",
    "bigint",
    "bigint",
    "bigint",
    "varchar",
    "varchar",
    "timestamptz",
)


def ledger_post_many(postings: Iterable[Posting]) -> set[str]:
    """Write each posting once (by reference); returns the references written now."""
    postings = list(postings)
    for p in postings:
        p.check()
    if not postings:
        return set()
    connection = transaction.get_connection()
    txn_table, leg_table = LedgerTransaction._meta.db_table, LedgerLeg._meta.db_table
    fields = [LedgerTransaction._meta.get_field(c) for c in _TXN_COLUMNS]
    columns = ", ".join(f.column for f in fields)
    now = timezone.now()
    written: set[str] = set()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(postings), BATCH):
            chunk = postings[start : start + BATCH]
            by_ref = {p.reference: p for p in chunk}
            params: list[Any] = []
            for p in by_ref.values():
                values = [
                    p.kind,
                    p.reference,
                    p.amount,
                    p.currency,
                    p.shop_id,
                    p.campaign_id,
                    p.pledge_id,
                    p.factory_id,
                    p.provider_id,
                    p.memo,
                    p.created_at or now,
                ]
                params += [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
            amount_field = LedgerLeg._meta.get_field("amount")
            if is_postgresql(connection):
                # Arrays, one per column (unnest): 11 parameters a statement instead of 11 a row, which
                # the driver would otherwise have to splice into the query text one by one.
                width = len(fields)
                columns_of = [params[i::width] for i in range(width)]
                cursor.execute(
                    f"INSERT INTO {txn_table} ({columns}) SELECT * FROM unnest("
                    + ", ".join(f"%s::{t}[]" for t in _TXN_TYPES)
                    + ") ON CONFLICT (reference) DO NOTHING RETURNING id, reference",
                    columns_of,
                )
                ids, accounts, amounts = [], [], []
                for txn_id, reference in cursor.fetchall():
                    written.add(reference)
                    for account, amount in by_ref[reference].legs:
                        ids.append(txn_id)
                        accounts.append(account)
                        amounts.append(amount_field.get_db_prep_save(amount, connection))
                if ids:
                    cursor.execute(
                        f"INSERT INTO {leg_table} (transaction_id, account, amount) "
                        f"SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::numeric[])",
                        [ids, accounts, amounts],
                    )
                continue
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            cursor.execute(
                f"INSERT INTO {txn_table} ({columns}) VALUES {', '.join([row] * len(by_ref))} "
                f"ON CONFLICT (reference) DO NOTHING RETURNING id, reference",
                params,
            )
            leg_params: list[Any] = []
            n = 0
            for txn_id, reference in cursor.fetchall():
                written.add(reference)
                for account, amount in by_ref[reference].legs:
                    leg_params += [txn_id, account, amount_field.get_db_prep_save(amount, connection)]
                    n += 1
            if n:
                cursor.execute(
                    f"INSERT INTO {leg_table} (transaction_id, account, amount) VALUES "
                    + ", ".join(["(%s, %s, %s)"] * n),
                    leg_params,
                )
        _announce(p for p in postings if p.reference in written)
    return written


def _announce(postings: Iterable[Posting]) -> None:
    """Tell payments.hooks.ledger_posted which pledges' cash moved (a fan's 消费 is read from it)."""
    from payments.hooks import ledger_posted

    pledge_ids = sorted(
        {
            p.pledge_id
            for p in postings
            if p.pledge_id is not None and any(a == Account.PROVIDER for a, _ in p.legs)
        }
    )
    if pledge_ids:
        for handler in ledger_posted.providers():
            handler(pledge_ids)


def ledger_post(posting: Posting) -> bool:
    return posting.reference in ledger_post_many([posting])


def ledger_has(reference: str) -> bool:
    return LedgerTransaction.objects.filter(reference=reference).exists()


# --- reading ---------------------------------------------------------------------------------------------


CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")


def cents(value: Any) -> Decimal:
    """A sum of legs as exact cents: every leg is whole cents, and SQLite sums them as floating point."""
    return Decimal(value or 0).quantize(CENT)


def _sums(filters: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    """Sum of legs by (transaction kind, account) for transactions matching `filters`."""
    return statements_sums(None, **filters).get(None, {})


def statements_sums(group: str | None, **filters: Any) -> dict[Any, dict[tuple[str, str], Decimal]]:
    """Sums of legs by (kind, account), per value of the transaction field `group` (None: one group)."""
    from django.db.models import Sum

    fields = ["transaction__kind", "account"] + ([f"transaction__{group}"] if group else [])
    rows = (
        LedgerLeg.objects.filter(**{f"transaction__{k}": v for k, v in filters.items()})
        .values(*fields)
        .annotate(total=Sum("amount"))
        .order_by()
    )
    out: dict[Any, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        out[r[f"transaction__{group}"] if group else None][(r["transaction__kind"], r["account"])] += cents(
            r["total"]
        )
    return out


def statement(**filters: Any) -> dict[str, Any]:
    """What was collected, refunded, forfeited and compensated, and what is payable to whom.

    `balanced` checks the books two ways: every transaction's legs sum to zero, and the cash the provider
    holds for these transactions equals what is still held plus every payable.
    """
    return statement_from_sums(_sums(filters), legs_zero=not unbalanced_transactions(**filters))


def statements_by(group: str, **filters: Any) -> dict[Any, dict[str, Any]]:
    """statement() for each value of the transaction field `group` (e.g. campaign_id), in two queries."""
    unbalanced = set(
        LedgerTransaction.objects.filter(pk__in=unbalanced_transactions(**filters)).values_list(
            group, flat=True
        )
    )
    return {
        key: statement_from_sums(sums, legs_zero=key not in unbalanced)
        for key, sums in statements_sums(group, **filters).items()
    }


def statement_from_sums(sums: dict[tuple[str, str], Decimal], *, legs_zero: bool = True) -> dict[str, Any]:
    def account_total(account: str, kinds: Iterable[str] | None = None) -> Decimal:
        return sum(
            (v for (k, a), v in sums.items() if a == account and (kinds is None or k in kinds)), Decimal(0)
        )

    collected = account_total(Account.PROVIDER, CHARGE_KINDS)
    refunded = -account_total(
        Account.PROVIDER,
        (TransactionKind.REFUND, TransactionKind.PRICE_PROTECTION, TransactionKind.AFTER_SALES_REFUND),
    )
    compensated = -account_total(Account.PROVIDER, (TransactionKind.COMPENSATION,))
    forfeited = -account_total(Account.FORFEITED, (TransactionKind.FORFEIT,))
    held = -account_total(Account.FANS_HELD)
    forfeit_unreleased = -account_total(Account.FORFEITED)
    payable_factory = -account_total(Account.FACTORY_PAYABLE)
    payable_shop = -account_total(Account.SHOP_PAYABLE)
    fee = -account_total(Account.PLATFORM_FEES)
    price_credits = account_total(Account.PRICE_CREDITS)
    cash = account_total(Account.PROVIDER)
    legs_zero = legs_zero and sum(sums.values(), Decimal(0)) == 0
    identity = cash == held + forfeit_unreleased + payable_factory + payable_shop + fee
    flow = collected - refunded - compensated == cash
    figures = {
        "collected": collected,
        "refunded": refunded,
        "forfeited": forfeited,
        "compensated": compensated,
        "price_credits": price_credits,
        "held": held,
        "forfeited_held": forfeit_unreleased,
        "payable_to_factory": payable_factory,
        "payable_to_shop": payable_shop,
        "platform_fee": fee,
    }
    return {**{k: cents(v) for k, v in figures.items()}, "balanced": bool(legs_zero and identity and flow)}


def unbalanced_transactions(**filters: Any) -> list[int]:
    """Transactions whose legs do not sum to zero (always empty unless someone bypassed the ledger)."""
    from django.db.models import Sum

    return list(
        LedgerLeg.objects.filter(**{f"transaction__{k}": v for k, v in filters.items()})
        .values("transaction_id")
        .annotate(total=Sum("amount"))
        # Not zero to the cent (SQLite sums decimals as floating point; PostgreSQL exactly).
        .filter(Q(total__gte=HALF_CENT) | Q(total__lte=-HALF_CENT))
        .values_list("transaction_id", flat=True)[:100]
    )


def pledge_cash(pledge_id: int) -> Decimal:
    """Net cash a fan has paid on a pledge (charges less refunds, compensation aside)."""
    from django.db.models import Sum

    total = (
        LedgerLeg.objects.filter(transaction__pledge_id=pledge_id, account=Account.PROVIDER)
        .exclude(transaction__kind=TransactionKind.COMPENSATION)
        .aggregate(t=Sum("amount"))["t"]
    )
    return cents(total)


def pledges_cash(pledge_ids: Iterable[int]) -> dict[int, Decimal]:
    """pledge_cash for many pledges in one query (pledges with no cash are left out)."""
    from django.db.models import Sum

    return {
        r["transaction__pledge_id"]: cents(r["total"])
        for r in LedgerLeg.objects.filter(
            transaction__pledge_id__in=list(pledge_ids), account=Account.PROVIDER
        )
        .exclude(transaction__kind=TransactionKind.COMPENSATION)
        .values("transaction__pledge_id")
        .annotate(total=Sum("amount"))
        .order_by()
    }


def pledge_charged(pledge_id: int, kind: str) -> bool:
    return LedgerTransaction.objects.filter(pledge_id=pledge_id, kind=kind).exists()
