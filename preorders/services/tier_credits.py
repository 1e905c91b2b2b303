"""At the close: every pledge pays the final tier price. A pledge placed at a higher tier gets a
price-protection credit (贵就赔) for the difference, with its ledger line; a deposit above the final total goes
back in cash."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from core.db import is_postgresql
from payments.ledger import Posting, ledger_post_many
from payments.models import Account, TransactionKind
from preorders.models import (
    Campaign,
    Credit,
    CreditKind,
    Pledge,
    PledgeStatus,
)
from preorders.money import money_round
from preorders.services.payments import ledger_refund

# --- at the close: price protection for deposits paid at a higher tier -------------------------------


def tier_credits_post(*, campaign: Campaign) -> int:
    """Every confirmed pledge pays the final tier price. A pledge placed at a higher tier price gets a
    price-protection credit for the difference, with its ledger line; a deposit above the final total is
    refunded in cash. Once per pledge (unique references); joins nothing, safe to rerun."""
    if campaign.final_unit_price is None:
        return 0
    final = campaign.final_unit_price
    note = _("Final tier price %(price)s") % {"price": final}
    if is_postgresql():
        created = _tier_credits_sql(campaign, final, note)
    else:
        created = _tier_credits_rows(campaign, final, note)
    # A deposit above what the pledge now costs: the excess goes back in cash (rare: a high deposit %).
    for pledge in Pledge.objects.filter(
        campaign=campaign,
        status__in=[PledgeStatus.CONFIRMED, PledgeStatus.PAID],
        unit_price__gt=final,
        deposit_amount__gt=F("quantity") * final,
    ):
        excess = pledge.deposit_amount - money_round(Decimal(pledge.quantity) * final)
        if excess > 0:
            ledger_refund(
                pledge=pledge,
                amount=excess,
                reference=f"pledge-{pledge.pk}-tier-excess",
                note="deposit above the final total",
                kind=TransactionKind.PRICE_PROTECTION,
            )
    return created


def _tier_credits_sql(campaign: Campaign, final: Decimal, note: str) -> int:
    """Set-based (PostgreSQL): the credits, their transactions and legs from the pledges, three statements."""
    from django.db import connection

    from payments.models import LedgerLeg, LedgerTransaction

    credit, pledge = Credit._meta.db_table, Pledge._meta.db_table
    txn, leg = LedgerTransaction._meta.db_table, LedgerLeg._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {credit} (pledge_id, kind, amount, currency, reference, paid_out, note, created_at) "
            f"SELECT p.id, %s, ROUND(p.quantity * (p.unit_price - %s), 2), p.currency, "
            f"'pledge-' || p.id || '-tier-credit', true, %s, now() FROM {pledge} p "
            f"WHERE p.campaign_id = %s AND p.status IN (%s, %s) AND p.unit_price > %s "
            f"ON CONFLICT (reference) DO NOTHING",
            [
                CreditKind.PRICE_PROTECTION,
                final,
                note,
                campaign.pk,
                PledgeStatus.CONFIRMED,
                PledgeStatus.PAID,
                final,
            ],
        )
        created = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {txn} (kind, reference, amount, currency, shop_id, campaign_id, pledge_id, provider_id, "
            f"memo, created_at) SELECT %s, c.reference, c.amount, c.currency, %s, %s, c.pledge_id, '', "
            f"'tier credit', now() FROM {credit} c JOIN {pledge} p ON p.id = c.pledge_id "
            f"WHERE p.campaign_id = %s AND c.reference = 'pledge-' || p.id || '-tier-credit' "
            f"ON CONFLICT (reference) DO NOTHING RETURNING id, amount",
            [TransactionKind.PRICE_PROTECTION, campaign.shop_id, campaign.pk, campaign.pk],
        )
        rows = cursor.fetchall()
        if rows:
            ids = [r[0] for r in rows for _side in (0, 1)]
            accounts = [a for _r in rows for a in (Account.PRICE_CREDITS, Account.LIST_PRICE)]
            amounts = [a for r in rows for a in (r[1], -r[1])]
            cursor.execute(
                f"INSERT INTO {leg} (transaction_id, account, amount) "
                f"SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::numeric[])",
                [ids, accounts, amounts],
            )
    return created


def _tier_credits_rows(campaign: Campaign, final: Decimal, note: str) -> int:
    rows = list(
        Pledge.objects.filter(
            campaign=campaign,
            status__in=[PledgeStatus.CONFIRMED, PledgeStatus.PAID],
            unit_price__gt=final,
        )
        .exclude(credits__kind=CreditKind.PRICE_PROTECTION)
        .values("pk", "quantity", "unit_price", "currency")
    )
    credits, postings = [], []
    for r in rows:
        difference = money_round(Decimal(r["quantity"]) * (r["unit_price"] - final))
        if difference <= 0:
            continue
        reference = f"pledge-{r['pk']}-tier-credit"
        credits.append(
            Credit(
                pledge_id=r["pk"],
                kind=CreditKind.PRICE_PROTECTION,
                amount=difference,
                currency=r["currency"],
                reference=reference,
                paid_out=True,  # taken off the balance, not paid in cash
                note=note,
            )
        )
        postings.append(
            Posting(
                TransactionKind.PRICE_PROTECTION,
                reference,
                difference,
                [(Account.PRICE_CREDITS, difference), (Account.LIST_PRICE, -difference)],
                currency=r["currency"],
                shop_id=campaign.shop_id,
                campaign_id=campaign.pk,
                pledge_id=r["pk"],
                memo="tier credit",
            )
        )
    with transaction.atomic():
        Credit.objects.bulk_create(credits, ignore_conflicts=True, batch_size=2000)
        ledger_post_many(postings)
    return len(credits)
