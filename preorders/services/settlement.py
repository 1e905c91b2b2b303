"""Settling a decided campaign's pledges in chunks: confirm them at the final price, or refund deposits.

Each chunk is its own short transaction guarded by the pledges' status, and refunds use one provider
reference per pledge and a unique ledger reference, so a run that dies half-way is finished by the next.
"""

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.db import is_postgresql
from fans.chat.models import Fan
from payments.ledger import cash_out, ledger_post_many, pledges_cash
from payments.models import TransactionKind
from payments.provider import payment_provider
from preorders.models import Campaign, Pledge, PledgeStatus

CHUNK = 5000
# Called with (campaign id, pledges settled so far) after each chunk has committed.
ChunkDone = Callable[[int, int], None]


def _fan_counters_apply(spend: dict[int, Decimal], pledges: dict[int, int]) -> None:
    """Bulk guarded counter updates for many fans, in fan pk order."""
    fan_ids = sorted(set(spend) | set(pledges))
    if not fan_ids:
        return
    if not is_postgresql(connection):
        # Embedded mode (SQLite, demo-sized shops): one guarded update per fan.
        for fid in fan_ids:
            n = pledges.get(fid, 0)
            Fan.objects.filter(pk=fid, pledge_count__gte=-n).update(
                total_spend=F("total_spend") + spend.get(fid, Decimal(0)), pledge_count=F("pledge_count") + n
            )
        return
    values = ", ".join(["(%s::bigint, %s::numeric, %s::integer)"] * len(fan_ids))
    params: list = []
    for fid in fan_ids:
        params += [fid, spend.get(fid, Decimal(0)), pledges.get(fid, 0)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Fan._meta.db_table} AS f SET total_spend = f.total_spend + d.spend, pledge_count = f.pledge_count + d.n "
            f"FROM (VALUES {values}) AS d(id, spend, n) "
            f"WHERE f.id = d.id AND f.pledge_count + d.n >= 0",
            params,
        )


def pledges_confirm_chunked(
    *, campaign: Campaign, chunk_size: int = CHUNK, on_chunk: ChunkDone | None = None
) -> int:
    """Every active pledge gets the final price and its balance due (exact: quantity × price − deposit)."""
    settled = 0
    table = Pledge._meta.db_table
    while True:
        with transaction.atomic(durable=True):
            with connection.cursor() as cursor:
                # A pledge whose deposit covers the final total is paid in full at once (balance 0).
                price, now = campaign.final_unit_price, timezone.now()
                cursor.execute(
                    f"UPDATE {table} SET "
                    f"status = CASE WHEN quantity * %s - deposit_amount > 0 THEN %s ELSE %s END, "
                    f"paid_at = CASE WHEN quantity * %s - deposit_amount > 0 THEN NULL ELSE %s END, "
                    f"final_unit_price = %s, "
                    f"balance_due = CASE WHEN quantity * %s - deposit_amount > 0 THEN quantity * %s - deposit_amount ELSE 0 END, "
                    f"updated_at = %s "
                    f"WHERE id IN (SELECT id FROM {table} WHERE campaign_id = %s AND status = %s "
                    f"ORDER BY id LIMIT %s{' FOR UPDATE' if connection.features.has_select_for_update else ''}) "
                    f"RETURNING fan_id, quantity",
                    [
                        price,
                        PledgeStatus.CONFIRMED,
                        PledgeStatus.PAID,
                        price,
                        now,
                        price,
                        price,
                        price,
                        now,
                        campaign.pk,
                        PledgeStatus.ACTIVE,
                        chunk_size,
                    ],
                )
                rows = cursor.fetchall()
            # 消费 is what was paid (preorders.services.spend): a confirmed balance is not paid yet.
        if not rows:
            return settled
        settled += len(rows)
        if on_chunk is not None:
            on_chunk(campaign.pk, settled)


def pledges_refund_chunked(
    *,
    campaign_id: int,
    from_status: str = PledgeStatus.ACTIVE,
    reason: str = "close",
    chunk_size: int = CHUNK,
    on_chunk: ChunkDone | None = None,
) -> int:
    """Refund each pledge's deposit (provider first, no locks held), then mark the chunk refunded."""
    provider = payment_provider()
    shop_id = Campaign.objects.filter(pk=campaign_id).values_list("shop_id", flat=True).first()
    done = 0
    last_pk = 0
    while True:
        chunk = list(
            Pledge.objects.filter(campaign_id=campaign_id, status=from_status, pk__gt=last_pk)
            .order_by("pk")
            .values("pk", "fan_id", "deposit_amount", "currency")[:chunk_size]
        )
        if not chunk:
            return done
        last_pk = chunk[-1]["pk"]
        # What each fan has paid on the pledge so far (deposit, and the balance if paid): all of it back.
        paid = pledges_cash(p["pk"] for p in chunk)
        entries = []
        refunds = [
            (f"pledge-{p['pk']}-{reason}-refund", f"pledge-{p['pk']}-charge", paid[p["pk"]], p["currency"])
            for p in chunk
            if paid.get(p["pk"], 0) > 0
        ]
        if hasattr(provider, "refund_many"):
            replies = provider.refund_many(refunds)
        else:
            replies = [
                provider.refund(reference=r, charge_reference=c, amount=a, currency=cur)
                for r, c, a, cur in refunds
            ]
        pledge_of = {f"pledge-{p['pk']}-{reason}-refund": p["pk"] for p in chunk}
        for (reference, _charge, amount, currency), reply in zip(refunds, replies, strict=True):
            entries.append(
                cash_out(
                    TransactionKind.REFUND,
                    reference,
                    amount,
                    currency=currency,
                    shop_id=shop_id,
                    campaign_id=campaign_id,
                    pledge_id=pledge_of[reference],
                    provider_id=reply.provider_id,
                    memo=reason,
                )
            )
        with transaction.atomic(durable=True):
            ledger_post_many(entries)
            ids = [p["pk"] for p in chunk]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Pledge._meta.db_table} SET status = %s, updated_at = %s "
                    f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND status = %s RETURNING fan_id",
                    [PledgeStatus.REFUNDED, timezone.now(), *ids, from_status],
                )
                counts: dict[int, int] = defaultdict(int)
                for (fan_id,) in cursor.fetchall():
                    counts[fan_id] -= 1
            _fan_counters_apply({}, counts)
        done += len(chunk)
        if on_chunk is not None:
            on_chunk(campaign_id, done)
