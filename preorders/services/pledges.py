"""Placing, changing and cancelling pledges.

Shape of every money path: a short transaction reserves quantity (guarded F() update on the campaign,
backed by the committed<=cap constraint), the provider is called with no row locks held, and a second
short transaction records the outcome in the ledger. A failed or timed-out charge undoes the reservation
and deletes the pending pledge, so nothing half-written stays behind.
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NoReturn

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, DomainError, Invalid, NotFound, Unprocessable
from fans.chat.models import Fan
from fans.chat.services import fan_follow
from preorders.access import access_pledge
from preorders.models import (
    HOLDING_STATUSES,
    Campaign,
    CampaignKind,
    CampaignStatus,
    IdempotencyKey,
    LedgerEntry,
    LedgerKind,
    Pledge,
    PledgeStatus,
)
from preorders.money import deposit_for
from preorders.payments import PaymentError, PaymentTimeout, payment_provider
from preorders.selectors import campaign_tiers, campaign_tiers_cached, unit_price_at
from preorders.services.campaigns import progress_announce
from recommend.services import interaction_record
from shops.models import Product, Variant


class PaymentFailed(DomainError):
    code = "payment_failed"
    status = 402


def pledge_to_dict(pledge: Pledge) -> dict[str, Any]:
    return {
        "id": pledge.pk,
        "campaign": pledge.campaign_id,
        "variant": pledge.variant_id,
        "variant_name": pledge.variant_name,
        "sku": pledge.sku,
        "quantity": pledge.quantity,
        "unit_price": str(pledge.unit_price),
        "deposit_amount": str(pledge.deposit_amount),
        "currency": pledge.currency,
        "status": pledge.status,
        "final_unit_price": None if pledge.final_unit_price is None else str(pledge.final_unit_price),
        "balance_due": None if pledge.balance_due is None else str(pledge.balance_due),
        "cancel_reason": pledge.cancel_reason,
        "created_at": pledge.created_at.isoformat() if pledge.created_at else None,
    }


def quantity_clean(value: Any) -> int:
    if isinstance(value, bool):
        value = None
    try:
        quantity = int(value)
        if isinstance(value, float) and value != quantity:
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(_("quantity must be a whole number."), code="quantity_invalid") from None
    if quantity <= 0:
        raise Invalid(_("quantity must be at least 1."), code="quantity_invalid")
    return quantity


def _open_check(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.LIVE:
        raise Conflict(_("This campaign is not taking pledges."), code="campaign_closed")
    if campaign.kind == CampaignKind.GROUP and campaign.deadline <= timezone.now():
        raise Conflict(_("The deadline has passed."), code="campaign_closed")


def _variant_get(campaign: Campaign, variant_id: Any) -> Variant:
    try:
        pk = int(variant_id)
    except (TypeError, ValueError):
        raise Invalid(_("variant must be an id."), code="variant_invalid") from None
    variant = Variant.objects.filter(pk=pk, product_id=campaign.product_id).first()
    if variant is None:
        raise Invalid(_("That variant is not part of this campaign's product."), code="variant_invalid")
    if not variant.is_available:
        raise Conflict(_("That variant is not available."), code="variant_unavailable")
    return variant


def _fan_lock(fan_id: int) -> None:
    """Lock the fan row (the first lock of every pledge write); SQLite's write transactions are exclusive."""
    connection = transaction.get_connection()
    if not connection.features.has_select_for_update:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Fan._meta.db_table} WHERE id = %s FOR UPDATE", [fan_id])


def _fan_limit_check(campaign: Campaign, fan_id: int, extra: int) -> None:
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


def _reserve(campaign: Campaign, quantity: int) -> int:
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


def _release(campaign_id: int, quantity: int) -> None:
    Campaign.objects.filter(pk=campaign_id, committed_quantity__gte=quantity).update(
        committed_quantity=F("committed_quantity") - quantity
    )


def _fan_count_add(fan_id: int, delta: int) -> None:
    if not delta:
        return
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            f"UPDATE {Fan._meta.db_table} SET pledge_count = pledge_count + %s WHERE id = %s AND pledge_count + %s >= 0",
            [delta, fan_id, delta],
        )


def _request_hash(campaign_id: int, variant: Any, quantity: Any) -> str:
    body = json.dumps(
        {"campaign": int(campaign_id), "variant": str(variant), "quantity": str(quantity)}, sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(record: IdempotencyKey, request_hash: str) -> dict[str, Any]:
    if record.request_hash != request_hash:
        raise Unprocessable(
            _("This Idempotency-Key was used with a different request."), code="idempotency_key_reused"
        )
    if record.response is None:
        raise Conflict(
            _("A request with this Idempotency-Key is still in progress."), code="idempotency_in_progress"
        )
    return record.response


def _campaign_snapshot(campaign_id: int) -> Campaign:
    return Campaign.objects.prefetch_related("tiers").get(pk=campaign_id)


# --- placement hot path -----------------------------------------------------------------------------------
# Every live campaign's pledges pass through here hundreds of times a second, and compiling an ORM query
# costs more than running it, so the path is a handful of plain statements (as fans.services.chat's send
# path): one read, then one message that reserves and inserts and commits inside the server (PostgreSQL;
# so the campaign row, which every pledge queues on, is never locked across a round trip to this process),
# then the provider with no locks held, then one short transaction.

_PLACEMENT_COLUMNS: list[tuple[str, type, str]] = [
    ("k", IdempotencyKey, "id"),
    ("k", IdempotencyKey, "request_hash"),
    ("k", IdempotencyKey, "response"),
    ("c", Campaign, "id"),
    ("c", Campaign, "status"),
    ("c", Campaign, "kind"),
    ("c", Campaign, "deadline"),
    ("c", Campaign, "shop"),
    ("c", Campaign, "product"),
    ("c", Campaign, "cap"),
    ("c", Campaign, "per_fan_limit"),
    ("c", Campaign, "base_unit_price"),
    ("c", Campaign, "deposit_percent"),
    ("c", Campaign, "currency"),
    ("c", Campaign, "committed_quantity"),
    ("c", Campaign, "final_unit_price"),
    ("c", Campaign, "launched_at"),
    ("v", Variant, "id"),
    ("v", Variant, "name"),
    ("v", Variant, "sku"),
    ("v", Variant, "is_available"),
    ("f", Fan, "id"),
]
_converters_by_vendor: dict[str, list[tuple[Any, list[Any]]]] = {}


def _placement_converters(connection: Any) -> list[tuple[Any, list[Any]]]:
    """Django's own from-database converters per column (decimals and datetimes differ by backend)."""
    converters = _converters_by_vendor.get(connection.vendor)
    if converters is None:
        converters = []
        for _alias, model, name in _PLACEMENT_COLUMNS:
            col = model._meta.get_field(name).get_col(model._meta.db_table)
            converters.append(
                (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            )
        _converters_by_vendor[connection.vendor] = converters
    return converters


def _placement_read(
    *, user_id: int, campaign_id: int, variant_id: int | None, key: str | None
) -> dict[str, Any]:
    """Idempotency record, launched campaign, the campaign's variant and the user's fan row: one statement."""
    connection = transaction.get_connection()
    select = ", ".join(
        f"{alias}.{model._meta.get_field(name).column}" for alias, model, name in _PLACEMENT_COLUMNS
    )
    sql = (
        f"SELECT {select} FROM (SELECT 1 AS one) o "
        f"LEFT JOIN {IdempotencyKey._meta.db_table} k ON k.user_id = %s AND k.key = %s "
        f"LEFT JOIN {Campaign._meta.db_table} c ON c.id = %s AND c.status <> %s "
        f"LEFT JOIN {Variant._meta.db_table} v ON v.id = %s AND v.product_id = c.product_id "
        f"LEFT JOIN {Fan._meta.db_table} f ON f.shop_id = c.shop_id AND f.user_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, key, campaign_id, CampaignStatus.DRAFT, variant_id, user_id])
        row = cursor.fetchone()
    out: dict[str, Any] = {}
    for (alias, _model, name), value, (col, converters) in zip(
        _PLACEMENT_COLUMNS, row, _placement_converters(connection), strict=True
    ):
        for converter in converters:
            value = converter(value, col, connection)
        out[f"{alias}_{name}"] = value
    return out


def _campaign_from_read(row: dict[str, Any]) -> Campaign:
    campaign = Campaign(
        pk=row["c_id"],
        status=row["c_status"],
        kind=row["c_kind"],
        deadline=row["c_deadline"],
        shop_id=row["c_shop"],
        product_id=row["c_product"],
        cap=row["c_cap"],
        per_fan_limit=row["c_per_fan_limit"],
        base_unit_price=row["c_base_unit_price"],
        deposit_percent=row["c_deposit_percent"],
        currency=row["c_currency"],
        committed_quantity=row["c_committed_quantity"],
        final_unit_price=row["c_final_unit_price"],
        launched_at=row["c_launched_at"],
    )
    # Tiers are fixed at launch, so a short per-process cache saves a query per pledge (progress uses them too).
    campaign._prefetched_objects_cache = {"tiers": campaign_tiers_cached(campaign)}
    return campaign


def _variant_pk(variant_id: Any) -> int | None:
    if isinstance(variant_id, bool):
        return None
    try:
        return int(variant_id)
    except (TypeError, ValueError):
        return None


def _variant_from_read(row: dict[str, Any], variant_pk: int | None) -> Variant:
    """The same answers as _variant_get, from the joined read."""
    if variant_pk is None:
        raise Invalid(_("variant must be an id."), code="variant_invalid")
    if row["v_id"] is None:
        raise Invalid(_("That variant is not part of this campaign's product."), code="variant_invalid")
    if not row["v_is_available"]:
        raise Conflict(_("That variant is not available."), code="variant_unavailable")
    return Variant(pk=row["v_id"], name=row["v_name"], sku=row["v_sku"], is_available=True)


def _prep(model: type, values: dict[str, Any], connection: Any) -> tuple[list[str], list[Any]]:
    """Column names and backend-ready values for a plain INSERT (as the ORM would adapt them)."""
    fields = [model._meta.get_field(name) for name in values]
    return [f.column for f in fields], [
        f.get_db_prep_save(v, connection) for f, v in zip(fields, values.values(), strict=True)
    ]


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
    return _prep(
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
        key_columns, key_params = _prep(IdempotencyKey, key_values, connection)
        cursor.execute(
            f"INSERT INTO {IdempotencyKey._meta.db_table} (pledge_id, {', '.join(key_columns)}) "
            f"VALUES (%s, {', '.join(['%s'] * len(key_columns))}) RETURNING id",
            [pledge.pk, *key_params],
        )
        return cursor.fetchone()[0]


def _one_trip(connection: Any) -> bool:
    """PostgreSQL with client-side binding (Django's default) takes several statements in one message."""
    return connection.vendor == "postgresql" and not connection.settings_dict.get("OPTIONS", {}).get(
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
    fan_lock = ""
    also, also_params = " AND EXISTS (SELECT 1 FROM f)", []
    if campaign.per_fan_limit is not None:
        fan_lock = f"SELECT id FROM {fan_table} WHERE id = %s FOR UPDATE; "
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
        key_columns, key_params = _prep(IdempotencyKey, key_values, connection)
        parts.append(
            f"k AS (INSERT INTO {key_table} (pledge_id, {', '.join(key_columns)}) "
            f"SELECT p.id, {', '.join(['%s'] * len(key_columns))} FROM p RETURNING id)"
        )
        params += key_params
        select = "SELECT c.committed_quantity, p.id, k.id FROM c, p, k"
    with connection.cursor() as cursor:
        cursor.execute(f"{fan_lock}WITH {', '.join(parts)} {select}", params)
        if fan_lock:
            cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        return None
    pledge.pk = row[1]
    return row[0], row[2]


def _pledge_reserve(
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
                _fan_limit_check(campaign, pledge.fan_id, pledge.quantity)
            _reserve_refused(campaign, now)
        return reserved
    with transaction.atomic(durable=True):
        if campaign.per_fan_limit is not None:
            # Lock order everywhere: fan row, then campaign row. The fan lock serialises this fan's pledges.
            _fan_lock(pledge.fan_id)
            _fan_limit_check(campaign, pledge.fan_id, pledge.quantity)
        # A concurrent twin blocks here on our uncommitted key, then fails: answered by the caller (409).
        record_pk = _pledge_insert(pledge, key_values)
        # Last statement before COMMIT: every pledge queues on this one campaign row, so hold it briefly.
        return _reserve(campaign, pledge.quantity), record_pk


def _pledge_record_paid(
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
        ledger_columns, ledger_params = _prep(
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
        if connection.vendor == "postgresql":
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


def pledge_place(
    *,
    user: AbstractBaseUser,
    campaign_id: int,
    variant_id: Any,
    quantity: Any,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """A fan commits to `quantity` of a variant and pays the deposit. Returns (pledge dict, created).

    With an Idempotency-Key: the same key and body return the first result; a different body is
    refused (422); a duplicate that arrives while the first is still paying gets 409.
    """
    key = (idempotency_key or "").strip()[:100] or None
    request_hash = _request_hash(campaign_id, variant_id, quantity)
    variant_pk = _variant_pk(variant_id)
    row = _placement_read(user_id=user.pk, campaign_id=int(campaign_id), variant_id=variant_pk, key=key)
    if key and row["k_id"] is not None:
        return _replay(
            IdempotencyKey(request_hash=row["k_request_hash"], response=row["k_response"]), request_hash
        ), False
    if row["c_id"] is None:
        raise NotFound()  # drafts are invisible to fans
    campaign = _campaign_from_read(row)
    quantity = quantity_clean(quantity)
    variant = _variant_from_read(row, variant_pk)
    _open_check(campaign)
    if campaign.per_fan_limit is not None and quantity > campaign.per_fan_limit:
        raise Conflict(
            _("At most %(n)d per fan in this campaign.") % {"n": campaign.per_fan_limit},
            code="per_fan_limit",
            detail={"per_fan_limit": campaign.per_fan_limit, "held": 0},
        )
    fan_id = row["f_id"]
    if fan_id is None:
        # Joining from a campaign page follows the shop (and opens the chat with it).
        fan_id = fan_follow(user=user, shop=campaign.shop, via="campaign").pk
    # The price the fan was shown (tiers reached so far); the final tier price is settled at the close.
    unit_price = unit_price_at(
        base=campaign.base_unit_price, tiers=campaign_tiers(campaign), quantity=campaign.committed_quantity
    )
    deposit = deposit_for(quantity=quantity, unit_price=unit_price, percent=campaign.deposit_percent)
    now = timezone.now()
    pledge = Pledge(
        campaign_id=campaign.pk,
        fan_id=fan_id,
        user_id=user.pk,
        variant_id=variant.pk,
        variant_name=variant.name,
        sku=variant.sku,
        quantity=quantity,
        unit_price=unit_price,
        deposit_amount=deposit,
        currency=campaign.currency,
        status=PledgeStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    key_values = None
    if key:
        key_values = {
            "user": user.pk,
            "key": key,
            "request_hash": request_hash,
            "response": None,
            "created_at": now,
        }

    try:
        campaign.committed_quantity, record_pk = _pledge_reserve(campaign, pledge, key_values)
    except IntegrityError:
        if not key:
            raise
        record = IdempotencyKey.objects.filter(user=user, key=key).first()
        if record is None:  # the twin failed and was rolled back: the client may simply retry
            raise Conflict(
                _("A request with this Idempotency-Key is still in progress."), code="idempotency_in_progress"
            ) from None
        return _replay(record, request_hash), False

    reference = f"pledge-{pledge.pk}-charge"
    result = None
    if deposit > 0:
        try:
            result = payment_provider().charge(
                reference=reference, amount=deposit, currency=pledge.currency, user_id=user.pk
            )
        except PaymentError as exc:
            if isinstance(exc, PaymentTimeout):
                payment_provider().void(reference=reference)
            _pledge_abandon(pledge)
            raise PaymentFailed(
                _("The deposit could not be charged; nothing was stored."),
                code="payment_timeout" if isinstance(exc, PaymentTimeout) else "payment_failed",
            ) from None

    # The answer a retry with the same key gets, written with the activation in one transaction.
    pledge.status, pledge.updated_at = PledgeStatus.ACTIVE, timezone.now()
    body = pledge_to_dict(pledge)
    with transaction.atomic(durable=True):
        committed = _pledge_record_paid(
            pledge=pledge,
            fan_id=fan_id,
            reference=reference,
            key_record=record_pk,
            provider_id=None if result is None else result.provider_id,
            body=body,
        )
        if committed is None:  # swept as abandoned meanwhile; the sweeper voided the charge
            raise PaymentFailed(_("The deposit could not be confirmed in time."), code="payment_timeout")
        # A pledge is the strongest signal the recommender gets (recommend.services).
        interaction_record(
            fan=Fan(pk=fan_id, shop_id=campaign.shop_id),
            product=Product(pk=campaign.product_id, shop_id=campaign.shop_id),
            kind="pledge",
            key=f"pledge:{pledge.pk}",
        )
        campaign.committed_quantity = committed
        progress_announce(campaign)
    return body, True


def _pledge_abandon(pledge: Pledge) -> None:
    """Undo a pending pledge whose deposit never went through: release quantity, delete it and its key."""
    with transaction.atomic(durable=True):
        deleted = Pledge.objects.filter(pk=pledge.pk, status=PledgeStatus.PENDING).exclude(
            pk__in=LedgerEntry.objects.values("pledge_id")
        )
        IdempotencyKey.objects.filter(pledge_id=pledge.pk).delete()
        if deleted.delete()[0]:
            _release(pledge.campaign_id, pledge.quantity)


def pledges_pending_sweep(*, campaign_id: int | None = None, older_than_s: int = 120) -> int:
    """Pending pledges left by a crash between reserve and record: void their charge and undo them."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_s)
    qs = Pledge.objects.filter(status=PledgeStatus.PENDING, created_at__lt=cutoff)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    swept = 0
    for pledge in qs.order_by("pk")[:1000]:
        payment_provider().void(reference=f"pledge-{pledge.pk}-charge")
        _pledge_abandon(pledge)
        swept += 1
    return swept


def _net_paid(pledge_id: int) -> Decimal:
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


def pledge_change(
    *, user: AbstractBaseUser, pledge_id: int, quantity: Any = None, variant_id: Any = None
) -> dict[str, Any]:
    """Change quantity and/or variant before the deadline; the deposit difference is charged or refunded."""
    if quantity is None and variant_id is None:
        raise Invalid(_("Nothing to change."), code="invalid")
    pledge = access_pledge(user, pledge_id)
    campaign = pledge.campaign
    new_quantity = quantity_clean(quantity) if quantity is not None else pledge.quantity
    variant = _variant_get(campaign, variant_id) if variant_id is not None else None
    _open_check(campaign)
    with transaction.atomic(durable=True):
        _fan_lock(pledge.fan_id)
        pledge = access_pledge(user, pledge_id, lock=True)
        if pledge.status != PledgeStatus.ACTIVE:
            raise Conflict(_("Only an active pledge can be changed."), code="pledge_not_active")
        old_quantity, old_deposit = pledge.quantity, pledge.deposit_amount
        old_variant = (pledge.variant_id, pledge.variant_name, pledge.sku)
        delta = new_quantity - old_quantity
        if delta > 0:
            _fan_limit_check(campaign, pledge.fan_id, delta)
            _reserve(campaign, delta)
        elif delta < 0:
            _release(campaign.pk, -delta)
        if variant is not None:
            pledge.variant, pledge.variant_name, pledge.sku = variant, variant.name, variant.sku
        pledge.quantity = new_quantity
        pledge.deposit_amount = deposit_for(
            quantity=new_quantity, unit_price=pledge.unit_price, percent=campaign.deposit_percent
        )
        pledge.save(
            update_fields=["variant", "variant_name", "sku", "quantity", "deposit_amount", "updated_at"]
        )
    difference = pledge.deposit_amount - old_deposit
    change_ref = f"pledge-{pledge.pk}-change-{uuid.uuid4().hex[:12]}"
    if difference > 0:
        try:
            result = payment_provider().charge(
                reference=change_ref, amount=difference, currency=pledge.currency, user_id=user.pk
            )
        except PaymentError as exc:
            if isinstance(exc, PaymentTimeout):
                payment_provider().void(reference=change_ref)
            with transaction.atomic(durable=True):
                # Put the pledge back as it was; the reservation for the increase is released.
                Pledge.objects.filter(pk=pledge.pk).update(
                    quantity=old_quantity,
                    deposit_amount=old_deposit,
                    variant_id=old_variant[0],
                    variant_name=old_variant[1],
                    sku=old_variant[2],
                )
                if delta > 0:
                    _release(campaign.pk, delta)
            raise PaymentFailed(
                _("The extra deposit could not be charged; the pledge is unchanged.")
            ) from None
        LedgerEntry.objects.create(
            pledge=pledge,
            kind=LedgerKind.CHARGE,
            amount=difference,
            currency=pledge.currency,
            reference=change_ref,
            provider_id=result.provider_id,
            note="change",
        )
    elif difference < 0:
        ledger_refund(pledge=pledge, amount=-difference, reference=change_ref, note="change")
    with transaction.atomic():
        progress_announce(_campaign_snapshot(campaign.pk))
    return pledge_to_dict(pledge)


def pledge_cancel(*, user: AbstractBaseUser, pledge_id: int, reason: str = "") -> dict[str, Any]:
    """Cancel before the deadline (or a subscription while it runs); the whole deposit is refunded."""
    pledge = access_pledge(user, pledge_id)
    _open_check(pledge.campaign)
    with transaction.atomic(durable=True):
        _fan_lock(pledge.fan_id)
        pledge = access_pledge(user, pledge_id, lock=True)
        if pledge.status not in (PledgeStatus.ACTIVE, PledgeStatus.PAUSED):
            raise Conflict(_("This pledge cannot be cancelled now."), code="pledge_not_active")
        pledge.status = PledgeStatus.CANCELLED
        pledge.cancel_reason = (reason or "").strip()[:200]
        pledge.save(update_fields=["status", "cancel_reason", "updated_at"])
        _release(pledge.campaign_id, pledge.quantity)
        _fan_count_add(pledge.fan_id, -1)
    ledger_refund(
        pledge=pledge,
        amount=_net_paid(pledge.pk),
        reference=f"pledge-{pledge.pk}-cancel-refund",
        note="cancel",
    )
    with transaction.atomic():
        progress_announce(_campaign_snapshot(pledge.campaign_id))
    return pledge_to_dict(pledge)


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
            amount=_net_paid(pledge.pk),
            reference=f"pledge-{pledge.pk}-cancel-refund",
            note="cancel",
        ):
            done += 1
    return done
