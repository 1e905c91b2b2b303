"""A fan's 消费 (Fan.total_spend), made true from the ledger.

消费 is the net cash a fan has paid a shop through the payment provider, read from the ledger's
provider account over the transactions of the fan's pledges in that shop: deposits, balances and
subscription cycle charges count in; refunds (cancel, close, lapse, pledge changes), price-protection
credits, after-sales refunds and late-shipment compensation paid back count out. Forfeits and releases
move money between our own accounts, never to or from the fan, so they do not change it.

Fan.total_spend stays a denormalised column (lists filter and sort on it at a million fans): the deposit
of a new pledge is added in the statement that records it (preorders.services.payments), every other
posting refreshes the fans it touches after commit, and a beat sweep recomputes every fan.
"""

from django.db import transaction

from core.db import is_postgresql, sql_in
from fans.chat.models import Fan
from payments.models import Account, LedgerLeg, LedgerTransaction
from preorders.models import Pledge

SWEEP_CHUNK = 20_000


def _spend_sql(fan_filter: str) -> tuple[str, str]:
    """The set-based UPDATE for fans matching `fan_filter` (SQL over the fan table alias `f0`)."""
    fan, pledge = Fan._meta.db_table, Pledge._meta.db_table
    txn, leg = LedgerTransaction._meta.db_table, LedgerLeg._meta.db_table
    sums = (
        f"SELECT p.fan_id, SUM(l.amount) AS spend FROM {pledge} p "
        f"JOIN {txn} t ON t.pledge_id = p.id "
        f"JOIN {leg} l ON l.transaction_id = t.id AND l.account = %s "
        f"WHERE p.fan_id IN (SELECT f0.id FROM {fan} f0 WHERE {fan_filter}) GROUP BY p.fan_id"
    )
    postgresql = (
        f"UPDATE {fan} AS f SET total_spend = COALESCE(s.spend, 0) "
        f"FROM {fan} f0 LEFT JOIN ({sums}) s ON s.fan_id = f0.id "
        f"WHERE f.id = f0.id AND {fan_filter} AND f.total_spend <> COALESCE(s.spend, 0)"
    )
    # SQLite (the embedded demo): a correlated subquery; it sums decimals as floating point, so round.
    spend = (
        f"ROUND(COALESCE((SELECT SUM(l.amount) FROM {pledge} p "
        f"JOIN {txn} t ON t.pledge_id = p.id JOIN {leg} l ON l.transaction_id = t.id AND l.account = %s "
        f"WHERE p.fan_id = {fan}.id), 0), 2)"
    )
    portable = (
        f"UPDATE {fan} SET total_spend = {spend} "
        f"WHERE id IN (SELECT f0.id FROM {fan} f0 WHERE {fan_filter}) AND total_spend <> {spend}"
    )
    return postgresql, portable


def _run(fan_filter: str, params: list) -> int:
    connection = transaction.get_connection()
    postgresql, portable = _spend_sql(fan_filter)
    with connection.cursor() as cursor:
        if is_postgresql(connection):
            cursor.execute(postgresql, [Account.PROVIDER, *params, *params])
        else:
            cursor.execute(portable, [Account.PROVIDER, *params, Account.PROVIDER])
        return cursor.rowcount


def fans_spend_refresh(*, fan_ids: list[int]) -> int:
    """Recompute 消费 for these fans from the ledger, in one statement; returns the rows changed."""
    fan_ids = sorted(set(fan_ids))
    if not fan_ids:
        return 0
    with transaction.atomic():
        # Lock first, then sum: a posting that committed while we waited is in the sum we write.
        list(Fan.objects.select_for_update().filter(pk__any_of=fan_ids).order_by("pk").values_list("pk"))
        where, params = sql_in("f0.id", fan_ids)
        return _run(where, params)


def pledges_spend_refresh(*, pledge_ids: list[int]) -> int:
    """Recompute 消费 for the fans of these pledges (after a posting on them)."""
    fan_ids = list(Pledge.objects.filter(pk__any_of=list(pledge_ids)).values_list("fan_id", flat=True))
    return fans_spend_refresh(fan_ids=fan_ids)


def fans_spend_sweep(*, chunk: int = SWEEP_CHUNK) -> int:
    """Recompute every fan's 消费 by ranges of fan id (the repair for anything a lost task missed)."""
    last, changed = 0, 0
    while True:
        ids = list(
            Fan.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[chunk - 1 : chunk]
        )
        upper = ids[0] if ids else None
        with transaction.atomic():
            if upper is None:
                return changed + _run("f0.id > %s", [last])
            changed += _run("f0.id > %s AND f0.id <= %s", [last, upper])
        last = upper


def spend_posted(pledge_ids: list[int]) -> None:
    """payments.hooks.ledger_posted: refresh the fans whose cash moved, once the posting has committed."""
    from preorders.tasks import pledges_spend_refresh_task

    pledges_spend_refresh_task.delay_on_commit(list(pledge_ids))


def lifecycle_spend_sql(shop_id: int, since) -> tuple[str, list]:
    """fans.crm.hooks.fan_spend_sql: per fan of the shop who paid since `since`, the net cash paid (12-month
    spend when `since` is a year ago), the payments in (frequency) and the latest one (recency). Cash in is a
    debit of the provider account (a deposit, balance or cycle charge); refunds are credits and count out."""
    from django.db import connection

    fan, pledge = Fan._meta.db_table, Pledge._meta.db_table
    txn, leg = LedgerTransaction._meta.db_table, LedgerLeg._meta.db_table
    since = connection.ops.adapt_datetimefield_value(since)
    sql = (
        f"SELECT p.fan_id AS fan_id, SUM(l.amount) AS spend, "
        f"COUNT(DISTINCT CASE WHEN l.amount > 0 THEN t.id END) AS orders, "
        f"MAX(CASE WHEN l.amount > 0 THEN t.created_at END) AS last_paid_at "
        f"FROM {pledge} p JOIN {fan} pf ON pf.id = p.fan_id "
        f"JOIN {txn} t ON t.pledge_id = p.id "
        f"JOIN {leg} l ON l.transaction_id = t.id AND l.account = %s "
        f"WHERE pf.shop_id = %s AND t.created_at >= %s GROUP BY p.fan_id"
    )
    return sql, [Account.PROVIDER, shop_id, since]
