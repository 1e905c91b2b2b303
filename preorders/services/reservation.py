"""Reserving quantity under the cap and the per-fan limit, and storing the pending pledge with its key.

Every pledge of a campaign queues on the campaign row, so the guard (live, before the deadline, within the
cap) sits in one UPDATE's WHERE clause, and that row is held as briefly as the database allows. Lock order
everywhere: the fan row, then the campaign row.
"""

from collections.abc import Sequence
from typing import Any, NoReturn

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import is_postgresql
from core.errors import Conflict
from fans.chat.models import Fan
from preorders.models import HOLDING_STATUSES, Campaign, CampaignKind, CampaignStatus, IdempotencyKey, Pledge
from preorders.services.sql import column_values


def fan_lock(fan_id: int) -> None:
    """Lock the fan row (the first lock of every pledge write); SQLite's write transactions are exclusive."""
    connection = transaction.get_connection()
    if not connection.features.has_select_for_update:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Fan._meta.db_table} WHERE id = %s FOR UPDATE", [fan_id])


def fan_limit_check(campaign: Campaign, fan_id: int, extra: int) -> None:
    """Under the fan's row lock: the fan's held quantity plus `extra` stays within the limit."""
    if campaign.per_fan_limit is None:
        return
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(quantity), 0) FROM {Pledge._meta.db_table} "
            f"WHERE campaign_id = %s AND fan_id = %s AND status IN ({', '.join(['%s'] * len(HOLDING_STATUSES))})",
            [campaign.pk, fan_id, *HOLDING_STATUSES],
        )
        held = int(cursor.fetchone()[0])
    if held + extra > campaign.per_fan_limit:
        raise Conflict(
            _("At most %(n)d per fan in this campaign.") % {"n": campaign.per_fan_limit},
            code="per_fan_limit",
            detail={"per_fan_limit": campaign.per_fan_limit, "held": held},
        )


def _reserve_update(
    campaign_id: int, quantity: int, now: Any, *, also: str = "", also_params: Sequence[Any] = ()
) -> tuple[str, list[Any]]:
    """The guarded increment as SQL: live, before the deadline (group campaigns), within the cap, and
    `also` (more conditions); it returns the new total, or no row when the guard refuses."""
    sql = (
        f"UPDATE {Campaign._meta.db_table} SET committed_quantity = committed_quantity + %s "
        f"WHERE id = %s AND status = %s AND (kind = %s OR deadline > %s) "
        f"AND (cap IS NULL OR committed_quantity + %s <= cap){also} RETURNING committed_quantity"
    )
    params = [quantity, campaign_id, CampaignStatus.LIVE, CampaignKind.SUBSCRIPTION, now, quantity]
    return sql, [*params, *also_params]


def reserve(campaign: Campaign, quantity: int) -> int:
    """Guarded increment of committed_quantity; returns the new total or raises sold_out/campaign_closed.

    One statement: the guard (live, before the deadline, within the cap) sits in the WHERE clause, so
    concurrent writers queue on the row lock and the last ones find no room. Placement on PostgreSQL
    runs the same guard inside _pledge_reserve_one_trip.
    """
    now = timezone.now()
    sql, params = _reserve_update(campaign.pk, quantity, now)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    _reserve_refused(campaign, now)


def _reserve_refused(campaign: Campaign, now: Any) -> NoReturn:
    """The guarded reservation found no room: say whether the campaign closed or sold out."""
    current = Campaign.objects.filter(pk=campaign.pk).values("committed_quantity", "status", "deadline").get()
    if current["status"] != CampaignStatus.LIVE or (
        campaign.kind == CampaignKind.GROUP and current["deadline"] <= now
    ):
        raise Conflict(_("This campaign is not taking pledges."), code="campaign_closed")
    raise Conflict(
        _("Sold out: not enough left under the cap."),
        code="sold_out",
        detail={"cap": campaign.cap, "committed_quantity": current["committed_quantity"]},
    )


def release(campaign_id: int, quantity: int) -> None:
    Campaign.objects.filter(pk=campaign_id, committed_quantity__gte=quantity).update(
        committed_quantity=F("committed_quantity") - quantity
    )


_PLEDGE_INSERT_FIELDS = (
    "campaign",
    "fan",
    "user",
    "variant",
    "variant_name",
    "sku",
    "quantity",
    "unit_price",
    "deposit_amount",
    "currency",
    "status",
    "final_unit_price",
    "balance_due",
    "cancel_reason",
    "created_at",
    "updated_at",
)


def _pledge_columns(pledge: Pledge, connection: Any) -> tuple[list[str], list[Any]]:
    return column_values(
        Pledge,
        {n: getattr(pledge, Pledge._meta.get_field(n).attname) for n in _PLEDGE_INSERT_FIELDS},
        connection,
    )


def _pledge_insert(pledge: Pledge, key_values: dict[str, Any] | None) -> int | None:
    """INSERT the pending pledge, and its idempotency key if any (the path for other databases).

    Returns the key record's id. A duplicate key raises IntegrityError and nothing is stored.
    """
    connection = transaction.get_connection()
    columns, values = _pledge_columns(pledge, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Pledge._meta.db_table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
            values,
        )
        pledge.pk = cursor.fetchone()[0]
        if key_values is None:
            return None
        key_columns, key_params = column_values(IdempotencyKey, key_values, connection)
        cursor.execute(
            f"INSERT INTO {IdempotencyKey._meta.db_table} (pledge_id, {', '.join(key_columns)}) "
            f"VALUES (%s, {', '.join(['%s'] * len(key_columns))}) RETURNING id",
            [pledge.pk, *key_params],
        )
        return cursor.fetchone()[0]


def _one_trip(connection: Any) -> bool:
    """PostgreSQL with client-side binding (Django's default) takes several statements in one message."""
    return is_postgresql(connection) and not connection.settings_dict.get("OPTIONS", {}).get(
        "server_side_binding"
    )


def _pledge_reserve_one_trip(
    campaign: Campaign, pledge: Pledge, key_values: dict[str, Any] | None, now: Any
) -> tuple[int, int | None] | None:
    """Reserve the quantity and insert the pending pledge (and key) in one message, its own transaction.

    Every pledge of a campaign queues on the campaign row, so that lock must never wait for this process:
    the guarded UPDATE, the inserts that depend on it and the COMMIT all run inside the server, and the
    lock is held for one statement plus the commit's WAL flush. Locks in the usual order: the fan row
    (KEY SHARE, as the pledge's foreign key takes; FOR UPDATE in its own earlier statement when there is
    a per-fan limit, so the limit's sum reads a snapshot taken after the lock), then the campaign row.

    Returns (committed quantity, key record id), or None if the guard refused (nothing is written).
    A duplicate key raises IntegrityError and the whole message is rolled back.
    """
    connection = transaction.get_connection()
    fan_table = Fan._meta.db_table
    pledge_table, key_table = Pledge._meta.db_table, IdempotencyKey._meta.db_table
    quantity, fan_id = pledge.quantity, pledge.fan_id
    params: list[Any] = []
    fan_lock_sql = ""
    also, also_params = " AND EXISTS (SELECT 1 FROM f)", []
    if campaign.per_fan_limit is not None:
        fan_lock_sql = f"SELECT id FROM {fan_table} WHERE id = %s FOR UPDATE; "
        params.append(fan_id)
        holding = ", ".join(["%s"] * len(HOLDING_STATUSES))
        also = (
            f" AND (per_fan_limit IS NULL OR (SELECT COALESCE(SUM(quantity), 0) FROM {pledge_table} "
            f"WHERE campaign_id = %s AND fan_id = %s AND status IN ({holding})) + %s <= per_fan_limit)" + also
        )
        also_params = [campaign.pk, fan_id, *HOLDING_STATUSES, quantity]
    reserve_sql, reserve_params = _reserve_update(
        campaign.pk, quantity, now, also=also, also_params=also_params
    )
    columns, values = _pledge_columns(pledge, connection)
    params += [fan_id, *reserve_params, *values]
    parts = [
        f"f AS MATERIALIZED (SELECT id FROM {fan_table} WHERE id = %s FOR KEY SHARE)",
        f"c AS ({reserve_sql})",
        f"p AS (INSERT INTO {pledge_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(['%s'] * len(columns))} FROM c RETURNING id)",
    ]
    select = "SELECT c.committed_quantity, p.id, NULL FROM c, p"
    if key_values is not None:
        key_columns, key_params = column_values(IdempotencyKey, key_values, connection)
        parts.append(
            f"k AS (INSERT INTO {key_table} (pledge_id, {', '.join(key_columns)}) "
            f"SELECT p.id, {', '.join(['%s'] * len(key_columns))} FROM p RETURNING id)"
        )
        params += key_params
        select = "SELECT c.committed_quantity, p.id, k.id FROM c, p, k"
    with connection.cursor() as cursor:
        cursor.execute(f"{fan_lock_sql}WITH {', '.join(parts)} {select}", params)
        if fan_lock_sql:
            cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        return None
    pledge.pk = row[1]
    return row[0], row[2]


def pledge_reserve(
    campaign: Campaign, pledge: Pledge, key_values: dict[str, Any] | None
) -> tuple[int, int | None]:
    """Reserve quantity under the cap (and the per-fan limit) and store the pending pledge and its key.

    Returns (committed quantity, key record id); raises sold_out, per_fan_limit or campaign_closed, or
    IntegrityError for a duplicate key (nothing is stored then).
    """
    connection = transaction.get_connection()
    if _one_trip(connection):
        now = timezone.now()
        if connection.in_atomic_block:
            # As everywhere else, an entry point: refused inside a caller's transaction (tests excepted).
            with transaction.atomic(durable=True):
                reserved = _pledge_reserve_one_trip(campaign, pledge, key_values, now)
        else:
            reserved = _pledge_reserve_one_trip(campaign, pledge, key_values, now)
        if reserved is None:
            if campaign.per_fan_limit is not None:
                fan_limit_check(campaign, pledge.fan_id, pledge.quantity)
            _reserve_refused(campaign, now)
        return reserved
    with transaction.atomic(durable=True):
        if campaign.per_fan_limit is not None:
            # Lock order everywhere: fan row, then campaign row. The fan lock serialises this fan's pledges.
            fan_lock(pledge.fan_id)
            fan_limit_check(campaign, pledge.fan_id, pledge.quantity)
        # A concurrent twin blocks here on our uncommitted key, then fails: answered by the caller (409).
        record_pk = _pledge_insert(pledge, key_values)
        # Last statement before COMMIT: every pledge queues on this one campaign row, so hold it briefly.
        return reserve(campaign, pledge.quantity), record_pk
