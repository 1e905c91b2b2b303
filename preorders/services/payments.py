"""Deposits and refunds through the payment provider, and the ledger that records them.

The provider is always called with no row locks held; the ledger row is written once per reference (a
unique constraint), so every step here is safe to rerun after a crash.
"""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.db import is_postgresql
from core.errors import DomainError
from fans.chat.models import Fan
from payments.ledger import cash_in, cash_out, ledger_has, ledger_post, ledger_post_many, pledge_cash
from payments.models import LedgerLeg, LedgerTransaction, TransactionKind
from payments.provider import payment_provider
from preorders.models import Campaign, Credit, IdempotencyKey, LedgerEntry, Pledge, PledgeStatus
from preorders.services.change_quote import cancel_refund_amount
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
    shop_id: int | None = None,
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
    posting = None
    if provider_id is not None:
        posting = cash_in(
            TransactionKind.DEPOSIT,
            reference,
            pledge.deposit_amount,
            currency=pledge.currency,
            shop_id=shop_id,
            campaign_id=pledge.campaign_id,
            pledge_id=pledge.pk,
            provider_id=provider_id,
            created_at=pledge.updated_at,
        )
        posting.check()
        ledger_columns, ledger_params = column_values(
            LedgerTransaction,
            {
                "kind": posting.kind,
                "reference": reference,
                "amount": posting.amount,
                "currency": posting.currency,
                "shop_id": shop_id,
                "campaign_id": pledge.campaign_id,
                "pledge_id": pledge.pk,
                "provider_id": provider_id,
                "memo": "",
                "created_at": pledge.updated_at,
            },
            connection,
        )
        amount_field = LedgerLeg._meta.get_field("amount")
        for account, amount in posting.legs:
            ledger_params += [account, amount_field.get_db_prep_save(amount, connection)]
        # The transaction and both its legs in one statement (the balance trigger checks per statement).
        ledger_sql = (
            f"t AS (INSERT INTO {LedgerTransaction._meta.db_table} ({', '.join(ledger_columns)}) "
            f"SELECT {', '.join(['%s'] * len(ledger_columns))} FROM a RETURNING id), "
            f"l AS (INSERT INTO {LedgerLeg._meta.db_table} (transaction_id, account, amount) "
            f"SELECT id, %s, %s FROM t UNION ALL SELECT id, %s, %s FROM t)"
        )
    # 消费 (preorders.services.spend) counts the deposit now recorded, in the same statement.
    fan_sql = (
        f"UPDATE {Fan._meta.db_table} SET pledge_count = pledge_count + 1, total_spend = total_spend + %s "
        f"WHERE id = %s"
    )
    deposit = pledge.deposit_amount if posting is not None else Decimal(0)
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
                parts.append(ledger_sql)
                params += ledger_params
            parts.append(f"f AS ({fan_sql} AND EXISTS (SELECT 1 FROM a) RETURNING id)")
            params += [deposit, fan_id]
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
        if posting is not None:
            ledger_post_many([posting])
        cursor.execute(fan_sql, [deposit, fan_id])
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
    """Net cash the fan has paid on a pledge (from the ledger's provider account)."""
    return pledge_cash(pledge_id)


def pledge_dims(pledge: Pledge) -> dict[str, Any]:
    """The ledger dimensions of a pledge's money movements."""
    shop_id = Campaign.objects.filter(pk=pledge.campaign_id).values_list("shop_id", flat=True).first()
    return {
        "currency": pledge.currency,
        "shop_id": shop_id,
        "campaign_id": pledge.campaign_id,
        "pledge_id": pledge.pk,
    }


def ledger_refund(
    *,
    pledge: Pledge,
    amount: Decimal,
    reference: str,
    note: str,
    kind: str = TransactionKind.REFUND,
    source: str | None = None,
    factory_id: int | None = None,
) -> bool:
    """Refund through the provider (no locks held) and post it once; safe to rerun with one reference.

    `factory_id` names the factory whose payable the money comes out of (late compensation)."""
    if amount <= 0 or ledger_has(reference):
        return False
    result = payment_provider().refund(
        reference=reference,
        charge_reference=f"pledge-{pledge.pk}-charge",
        amount=amount,
        currency=pledge.currency,
    )
    extra: dict[str, Any] = {"source": source} if source else {}
    if factory_id is not None:
        extra["factory_id"] = factory_id
    return ledger_post(
        cash_out(
            kind, reference, amount, provider_id=result.provider_id, memo=note, **extra, **pledge_dims(pledge)
        )
    )


def credit_pay_out(*, credit: Credit, kind: str, source: str, factory_id: int | None = None) -> bool:
    """Pay a written Credit out through the provider and the ledger, then mark it paid; safe to rerun
    after a crash at any step (the provider refund and the ledger posting are once per reference)."""
    if credit.paid_out:
        return False
    ledger_refund(
        pledge=credit.pledge,
        amount=credit.amount,
        reference=credit.reference,
        note=credit.kind,
        kind=kind,
        source=source,
        factory_id=factory_id,
    )
    return bool(Credit.objects.filter(pk=credit.pk, paid_out=False).update(paid_out=True))


def pledges_cancelled_refund(*, campaign_id: int) -> int:
    """Finish refunds of cancelled pledges interrupted by a crash (reruns find nothing to do)."""
    done = 0
    for pledge in (
        Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.CANCELLED)
        .select_related("campaign")
        .exclude(
            pk__in=LedgerTransaction.objects.filter(
                campaign_id=campaign_id, reference__endswith="-cancel-refund"
            ).values("pledge_id")
        )
        .order_by("pk")
    ):
        if ledger_refund(
            pledge=pledge,
            amount=cancel_refund_amount(pledge),
            reference=f"pledge-{pledge.pk}-cancel-refund",
            note="cancel",
        ):
            done += 1
    return done
