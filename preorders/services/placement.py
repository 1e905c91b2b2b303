"""Placing a pledge: the hot path every live campaign's pledges pass through.

Shape of the money path: a short transaction reserves quantity (guarded update on the campaign, backed by
the committed<=cap constraint), the provider is called with no row locks held, and a second short
transaction records the outcome in the ledger. A failed or timed-out charge undoes the reservation and
deletes the pending pledge, so nothing half-written stays behind.
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import metrics
from core.db import vendor
from core.errors import Conflict, Invalid, NotFound
from fans.chat.models import Fan
from fans.chat.services import fan_follow
from payments.provider import ChargeRequest, PaymentError, PaymentTimeout, payment_provider
from preorders.models import Campaign, CampaignStatus, IdempotencyKey, Pledge, PledgeStatus
from preorders.money import deposit_for
from preorders.selectors import campaign_tiers, campaign_tiers_cached, unit_price_at
from preorders.services.events import progress_announce
from preorders.services.idempotency import key_clean, key_row, replay, replay_after_duplicate, request_hash
from preorders.services.payments import PaymentFailed, pledge_abandon, pledge_record_paid
from preorders.services.pledge_rules import campaign_open_check, pledge_to_dict, quantity_clean
from preorders.services.reservation import pledge_reserve
from recommend.services import interaction_record
from shops.models import Product, Variant

# --- the read -----------------------------------------------------------------------------------------------
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
    converters = _converters_by_vendor.get(vendor(connection))
    if converters is None:
        converters = []
        for _alias, model, name in _PLACEMENT_COLUMNS:
            col = model._meta.get_field(name).get_col(model._meta.db_table)
            converters.append(
                (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            )
        _converters_by_vendor[vendor(connection)] = converters
    return converters


def _placement_read(
    *, user_id: int, campaign_id: int, variant_id: int | None, key: str | None
) -> dict[str, Any]:
    """Idempotency record, launched campaign, the campaign's variant and the user's fan row: one statement."""
    connection = transaction.get_connection()
    select = ", ".join(
        f"{alias}.{model._meta.get_field(name).column}" for alias, model, name in _PLACEMENT_COLUMNS
    )
    offered = Campaign.variants.through._meta.db_table
    sql = (
        f"SELECT {select} FROM (SELECT 1 AS one) o "
        f"LEFT JOIN {IdempotencyKey._meta.db_table} k ON k.user_id = %s AND k.key = %s "
        f"LEFT JOIN {Campaign._meta.db_table} c ON c.id = %s AND c.status <> %s "
        f"LEFT JOIN {Variant._meta.db_table} v ON v.id = %s AND v.product_id = c.product_id "
        # A campaign that chose its variants offers only those (none chosen: all of the product's).
        f"AND (NOT EXISTS (SELECT 1 FROM {offered} cv WHERE cv.campaign_id = c.id) "
        f"OR EXISTS (SELECT 1 FROM {offered} cv WHERE cv.campaign_id = c.id AND cv.variant_id = v.id)) "
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
    """The same answers as pledge_rules.variant_get, from the joined read."""
    if variant_pk is None:
        raise Invalid(_("variant must be an id."), code="variant_invalid")
    if row["v_id"] is None:
        raise Invalid(_("That variant is not part of this campaign's product."), code="variant_invalid")
    if not row["v_is_available"]:
        raise Conflict(_("That variant is not available."), code="variant_unavailable")
    return Variant(pk=row["v_id"], name=row["v_name"], sku=row["v_sku"], is_available=True)


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
    key = key_clean(idempotency_key)
    fingerprint = request_hash(campaign_id, variant_id, quantity)
    variant_pk = _variant_pk(variant_id)
    row = _placement_read(user_id=user.pk, campaign_id=int(campaign_id), variant_id=variant_pk, key=key)
    if key and row["k_id"] is not None:
        return replay(
            IdempotencyKey(request_hash=row["k_request_hash"], response=row["k_response"]), fingerprint
        ), False
    if row["c_id"] is None:
        raise NotFound()  # drafts are invisible to fans
    campaign = _campaign_from_read(row)
    quantity = quantity_clean(quantity)
    variant = _variant_from_read(row, variant_pk)
    campaign_open_check(campaign)
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
    key_values = key_row(user_id=user.pk, key=key, request_hash=fingerprint, now=now) if key else None

    try:
        campaign.committed_quantity, record_pk = pledge_reserve(campaign, pledge, key_values)
    except IntegrityError:
        if not key:
            raise
        return replay_after_duplicate(user_id=user.pk, key=key, request_hash=fingerprint), False

    reference = f"pledge-{pledge.pk}-charge"
    result = None
    if deposit > 0:
        try:
            # wait=True: the fan is on the page; the provider answers the deposit in its reply.
            result = payment_provider().charge(
                ChargeRequest(reference, deposit, pledge.currency, user.pk), wait=True
            )
        except PaymentError as exc:
            if isinstance(exc, PaymentTimeout):
                payment_provider().void(reference=reference)
            pledge_abandon(pledge)
            raise PaymentFailed(
                _("The deposit could not be charged; nothing was stored."),
                code="payment_timeout" if isinstance(exc, PaymentTimeout) else "payment_failed",
            ) from None

    # The answer a retry with the same key gets, written with the activation in one transaction.
    pledge.status, pledge.updated_at = PledgeStatus.ACTIVE, timezone.now()
    body = pledge_to_dict(pledge)
    with transaction.atomic(durable=True):
        committed = pledge_record_paid(
            pledge=pledge,
            fan_id=fan_id,
            reference=reference,
            key_record=record_pk,
            provider_id=None if result is None else result.provider_id,
            body=body,
            shop_id=campaign.shop_id,
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
    metrics.pledge_placed()
    return body, True
