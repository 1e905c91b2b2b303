"""Per-fan fulfilment: a factory order's units go out as one parcel per fan, recorded one by one or from a CSV.

A shipment covers whole pledges of one fan, each paid (a paid group pledge, or a charged subscription box of
the order's cycle) and not already in a live parcel of this order: the database keeps that last rule too
(ShipmentItem's partial unique constraint). It goes shipped -> delivered, or lost (its pledges may then go
out again), and the fan closes it by confirming receipt, or it is confirmed seven days after delivery. Each
step tells the fan once in chat with an order card (PledgeNotice keys the shipment), after commit.
"""

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from core.errors import Conflict, DomainError, Invalid, Unprocessable
from core.tasks import task_dispatch_on_commit
from fans.crm.csvio import cell_unsafe, decode_csv
from preorders.fulfilment_models import ConfirmedBy, ShipmentStatus
from preorders.models import (
    CycleDelivery,
    DeliveryStatus,
    FactoryOrder,
    FactoryOrderSource,
    FactoryOrderStatus,
    Pledge,
    PledgeStatus,
    Shipment,
    ShipmentItem,
)

TELL_TASK = "preorders.tasks.shipment_tell_task"
AUTO_CONFIRM_AFTER = dt.timedelta(days=7)
CARRIER_MAX = 60
TRACKING_MAX = 64
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 5000
PLEDGE_ID_SPLIT = re.compile(r"[\s;,]+")


def _text_clean(value: Any, *, field: str, limit: int) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        messages = {
            "carrier": _("The carrier is required."),
            "tracking_number": _("The tracking number is required."),
        }
        raise Invalid(messages[field], code=f"{field}_required")
    if len(text) > limit:
        raise Invalid(
            _("%(field)s is longer than %(n)d characters.") % {"field": field, "n": limit},
            code=f"{field}_invalid",
        )
    return text


def pledge_ids_clean(value: Any) -> list[int]:
    """A list of pledge ids (or a string of them separated by spaces, commas or semicolons)."""
    if isinstance(value, str):
        value = [v for v in PLEDGE_ID_SPLIT.split(value.strip()) if v]
    if not isinstance(value, list | tuple) or not value:
        raise Invalid(_("List the pledges this parcel carries."), code="pledges_invalid")
    ids: list[int] = []
    for v in value:
        if isinstance(v, bool):
            raise Invalid(_("Pledges are given by their ids."), code="pledges_invalid")
        try:
            pk = int(str(v).strip())
        except ValueError:
            raise Invalid(_("Pledges are given by their ids."), code="pledges_invalid") from None
        if pk <= 0:
            raise Invalid(_("Pledges are given by their ids."), code="pledges_invalid")
        ids.append(pk)
    return list(dict.fromkeys(ids))


def shipped_at_clean(value: Any) -> dt.datetime:
    """An ISO date or time, in shop time when it has no offset; not in the future. Empty: now."""
    now = timezone.now()
    if value in (None, ""):
        return now
    text = str(value).strip()
    parsed = parse_datetime(text.replace(" ", "T", 1)) if len(text) > 10 else None
    if parsed is None:
        day = parse_date(text) if len(text) <= 10 else None
        if day is None:
            raise Invalid(_("shipped_at must be a date or a time (ISO 8601)."), code="shipped_at_invalid")
        parsed = dt.datetime.combine(day, dt.time(12, 0))
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed > now + dt.timedelta(minutes=5):
        raise Invalid(_("shipped_at cannot be in the future."), code="shipped_at_invalid")
    return parsed


def _order_pledges(order: FactoryOrder, ids: list[int]) -> dict[int, tuple[Pledge, int, bool]]:
    """Of `ids`, the pledges this order carries: pledge -> (pledge, quantity, paid)."""
    pledges = {p.pk: p for p in Pledge.objects.select_related("campaign").filter(pk__in=ids)}
    out: dict[int, tuple[Pledge, int, bool]] = {}
    if order.cycle_id is not None:
        deliveries = {
            d.pledge_id: d for d in CycleDelivery.objects.filter(cycle_id=order.cycle_id, pledge_id__in=ids)
        }
        for pk, d in deliveries.items():
            if pk in pledges:
                out[pk] = (pledges[pk], d.quantity, d.status == DeliveryStatus.CHARGED)
        return out
    campaigns = set(
        FactoryOrderSource.objects.filter(order=order, campaign__isnull=False).values_list(
            "campaign_id", flat=True
        )
    )
    for pk, p in pledges.items():
        if p.campaign_id in campaigns:
            out[pk] = (p, p.quantity, p.status == PledgeStatus.PAID)
    return out


def shipment_record(
    *,
    order_id: int,
    pledges: Any,
    carrier: Any,
    tracking_number: Any,
    shipped_at: Any = None,
    recorded_by: AbstractBaseUser | None = None,
    shop_ids: set[int] | None = None,
) -> Shipment:
    """Record one fan's parcel out of a factory order. `shop_ids` limits the pledges to those shops' fans
    (an owner ships their own; None: the platform's staff or the order's factory). Nothing is written
    unless every check passes."""
    carrier = _text_clean(carrier, field="carrier", limit=CARRIER_MAX)
    tracking_number = _text_clean(tracking_number, field="tracking_number", limit=TRACKING_MAX)
    ids = pledge_ids_clean(pledges)
    when = shipped_at_clean(shipped_at)
    try:
        with transaction.atomic(durable=True):
            # One recorder at a time per order: the checks below read what the one before wrote.
            order = FactoryOrder.objects.select_for_update().get(pk=order_id)
            if order.status == FactoryOrderStatus.CANCELLED:
                raise Conflict(_("This factory order was cancelled."), code="order_cancelled")
            found = _order_pledges(order, ids)
            if shop_ids is not None:
                found = {pk: f for pk, f in found.items() if f[0].campaign.shop_id in shop_ids}
            missing = [pk for pk in ids if pk not in found]
            if missing:
                raise Unprocessable(
                    _("These pledges are not in this factory order: %(ids)s")
                    % {"ids": ", ".join(map(str, missing))},
                    code="pledge_not_in_order",
                    detail={"pledges": missing},
                )
            unpaid = [pk for pk in ids if not found[pk][2]]
            if unpaid:
                raise Conflict(
                    _("These pledges are not paid: %(ids)s") % {"ids": ", ".join(map(str, unpaid))},
                    code="pledge_not_paid",
                    detail={"pledges": unpaid},
                )
            shipped = sorted(
                ShipmentItem.objects.filter(factory_order=order, pledge_id__in=ids, lost=False).values_list(
                    "pledge_id", flat=True
                )
            )
            if shipped:
                raise Conflict(
                    _("These pledges are already in a parcel: %(ids)s")
                    % {"ids": ", ".join(map(str, shipped))},
                    code="already_shipped",
                    detail={"pledges": shipped},
                )
            fans = {found[pk][0].fan_id for pk in ids}
            if len(fans) > 1:
                raise Unprocessable(
                    _("A parcel goes to one fan: these pledges belong to several."), code="several_fans"
                )
            fan_id = fans.pop()
            if Shipment.objects.filter(tracking_number=tracking_number).exclude(fan_id=fan_id).exists():
                raise Conflict(
                    _("This tracking number is already used for another fan's parcel."),
                    code="tracking_number_reused",
                )
            shipment = Shipment.objects.create(
                factory_order=order,
                fan_id=fan_id,
                carrier=carrier,
                tracking_number=tracking_number,
                shipped_at=when,
                recorded_by=recorded_by if recorded_by is not None and recorded_by.is_authenticated else None,
            )
            ShipmentItem.objects.bulk_create(
                ShipmentItem(shipment=shipment, pledge_id=pk, factory_order=order, quantity=found[pk][1])
                for pk in ids
            )
            task_dispatch_on_commit(TELL_TASK, shipment.pk, "shipped")
    except IntegrityError:
        # A twin request won the race for one of these pledges between our check and our insert.
        raise Conflict(_("These pledges are already in a parcel."), code="already_shipped") from None
    return shipment


def shipment_deliver(*, shipment_id: int) -> Shipment:
    """shipped -> delivered (the carrier says so); delivering twice changes nothing."""
    with transaction.atomic(durable=True):
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status == ShipmentStatus.DELIVERED:
            return shipment
        if shipment.status == ShipmentStatus.LOST:
            raise Conflict(_("This parcel was reported lost."), code="shipment_lost")
        shipment.status, shipment.delivered_at = ShipmentStatus.DELIVERED, timezone.now()
        shipment.save(update_fields=["status", "delivered_at"])
        task_dispatch_on_commit(TELL_TASK, shipment.pk, "delivered")
    return shipment


def shipment_lose(*, shipment_id: int) -> Shipment:
    """shipped -> lost: its pledges count as unshipped again (a new parcel may carry them)."""
    with transaction.atomic(durable=True):
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.status == ShipmentStatus.LOST:
            return shipment
        if shipment.status == ShipmentStatus.DELIVERED:
            raise Conflict(_("This parcel was delivered already."), code="shipment_delivered")
        shipment.status = ShipmentStatus.LOST
        shipment.save(update_fields=["status"])
        ShipmentItem.objects.filter(shipment=shipment).update(lost=True)
        task_dispatch_on_commit(TELL_TASK, shipment.pk, "lost")
    return shipment


def shipment_confirm(*, shipment_id: int, by: str = ConfirmedBy.FAN) -> Shipment:
    """The fan has the parcel: receipt confirmed, which closes the order of its pledges. A parcel the
    carrier has not marked delivered yet is delivered now; confirming twice changes nothing."""
    with transaction.atomic(durable=True):
        shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
        if shipment.confirmed_at is not None:
            return shipment
        if shipment.status == ShipmentStatus.LOST:
            raise Conflict(_("This parcel was reported lost."), code="shipment_lost")
        now = timezone.now()
        fields = ["status", "confirmed_at", "confirmed_by"]
        if shipment.delivered_at is None:
            shipment.delivered_at = now
            fields.append("delivered_at")
        shipment.status, shipment.confirmed_at, shipment.confirmed_by = ShipmentStatus.DELIVERED, now, by
        shipment.save(update_fields=fields)
    return shipment


def shipments_autoconfirm_run(*, now: dt.datetime | None = None, batch: int = 2000) -> int:
    """Beat entry: receipt confirmed for every parcel delivered seven days ago and not confirmed yet."""
    now = now or timezone.now()
    done = 0
    while True:
        ids = list(
            Shipment.objects.filter(
                status=ShipmentStatus.DELIVERED,
                confirmed_at__isnull=True,
                delivered_at__lte=now - AUTO_CONFIRM_AFTER,
            )
            .order_by("delivered_at", "pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return done
        done += Shipment.objects.filter(pk__in=ids, confirmed_at__isnull=True).update(
            confirmed_at=now, confirmed_by=ConfirmedBy.AUTO
        )


# --- CSV ----------------------------------------------------------------------------------------------

IMPORT_COLUMNS = ("pledge_ids", "carrier", "tracking_number", "shipped_at")


def shipments_import(
    *,
    order_id: int,
    raw: bytes,
    recorded_by: AbstractBaseUser | None = None,
    shop_ids: set[int] | None = None,
) -> dict[str, Any]:
    """Record one parcel per CSV row (pledge_ids, carrier, tracking_number, shipped_at). Each row is its
    own transaction: good rows are recorded, a bad row writes nothing and is reported with its code.
    Rows are numbered as in a spreadsheet (the header is row 1)."""
    if len(raw) > IMPORT_MAX_BYTES:
        raise Invalid(_("The file is larger than 5 MB."), code="file_too_large")
    text, _encoding = decode_csv(raw)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise Invalid(_("The file is empty."), code="empty_file")
    reader.fieldnames = header
    missing = [c for c in IMPORT_COLUMNS[:3] if c not in header]
    if missing:
        raise Invalid(
            _("The file needs the columns %(c)s.") % {"c": ", ".join(missing)},
            code="missing_columns",
            detail={"columns": header, "required": list(IMPORT_COLUMNS[:3])},
        )
    created: list[int] = []
    errors: list[dict[str, Any]] = []
    for index, row in enumerate(reader):
        line = index + 2
        if index >= IMPORT_MAX_ROWS:
            errors.append(
                {
                    "row": line,
                    "code": "too_many_rows",
                    "message": _("Only the first %(n)d rows are read.") % {"n": IMPORT_MAX_ROWS},
                }
            )
            break
        cells = {k: cell_unsafe((v or "").strip()) for k, v in row.items() if isinstance(v, str)}
        if not any(cells.values()):
            continue  # a blank line
        try:
            shipment = shipment_record(
                order_id=order_id,
                pledges=cells.get("pledge_ids", ""),
                carrier=cells.get("carrier"),
                tracking_number=cells.get("tracking_number"),
                shipped_at=cells.get("shipped_at") or None,
                recorded_by=recorded_by,
                shop_ids=shop_ids,
            )
        except DomainError as exc:
            errors.append({"row": line, "code": exc.code, "message": exc.message})
            continue
        created.append(shipment.pk)
    return {"created": len(created), "shipments": created, "errors": errors}


# --- telling the fan ------------------------------------------------------------------------------------


def _shipment_text(shipment: Shipment, what: str) -> Any:
    def text(pledge: Pledge) -> str:
        values = {
            "title": pledge.campaign.title,
            "carrier": shipment.carrier,
            "tracking": shipment.tracking_number,
        }
        if what == "shipped":
            return _("“%(title)s” has shipped: %(carrier)s %(tracking)s.") % values
        if what == "delivered":
            return _("“%(title)s” was delivered. Please confirm receipt.") % values
        return (
            _("The parcel of “%(title)s” (%(carrier)s %(tracking)s) was lost; the shop will send it again.")
            % values
        )

    return text


CARDS = {"shipped": "shipment", "delivered": "shipment_delivered", "lost": "shipment_lost"}


def shipment_tell(*, shipment_id: int, what: str) -> int:
    """Tell every fan's pledge in the parcel once per shipment and step; safe to rerun."""
    from preorders.services.notices import pledge_tell

    shipment = Shipment.objects.filter(pk=shipment_id).first()
    if shipment is None or what not in CARDS:
        return 0
    card = {
        "shipment": shipment.pk,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
    }
    told = 0
    for pledge_id in _pledge_ids(shipment):
        told += pledge_tell(
            pledge_id=pledge_id,
            what=CARDS[what],
            key=f":{shipment.pk}",
            text=_shipment_text(shipment, what),
            card=card,
        )
    return told


def _pledge_ids(shipment: Shipment) -> Iterable[int]:
    return (
        ShipmentItem.objects.filter(shipment=shipment)
        .order_by("pledge_id")
        .values_list("pledge_id", flat=True)
    )
