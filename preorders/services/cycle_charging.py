"""Charging subscription cycles: at each cut-off every active, unskipped box is charged; only paid boxes
become factory demand. A declined charge enters dunning: retried after 1 day and after 3 days, with a
"pay now" card each time; after the last failure the box is skipped and the subscription paused.

Charges go through payments (Payment rows committed first, then the provider with no locks held; the
reply, the notification or the sweep settles them once); `cycle_settled` is the "cycle" handler.
"""

import datetime as dt
import functools
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, NotFound
from fans.chat.models import MessageKind
from payments.models import Payment, PaymentStatus
from payments.services import payments_charge
from preorders.models import (
    CycleDelivery,
    CycleStatus,
    DeliveryStatus,
    FactoryOrder,
    Pledge,
    PledgeNotice,
    PledgeStatus,
    SubscriptionCycle,
)

logger = logging.getLogger(__name__)

CHUNK = 2000
# Dunning: the delay before attempt n+1 after attempt n failed; after the last, the box is skipped.
RETRY_AFTER = {1: dt.timedelta(days=1), 2: dt.timedelta(days=2)}  # attempts at 0 d, 1 d, 3 d
MAX_ATTEMPTS = 3


def delivery_reference(delivery_id: int, attempt: int) -> str:
    return f"cycle-delivery-{delivery_id}-a{attempt}"


def _payments_for(rows: list[dict]) -> list[Payment]:
    """Payment rows for deliveries about to be charged (their attempt already counted)."""
    payments = [
        Payment(
            purpose="cycle",
            reference=delivery_reference(r["pk"], r["attempts"]),
            user_id=r["pledge__user_id"],
            amount=r["amount"],
            currency=r["pledge__currency"],
            shop_id=r["pledge__campaign__shop_id"],
            campaign_id=r["pledge__campaign_id"],
            pledge_id=r["pledge_id"],
            subject_id=r["pk"],
            attempt=r["attempts"],
        )
        for r in rows
    ]
    # The boxes were claimed (their attempt counted) in this same transaction, so no reference exists yet.
    return Payment.objects.bulk_create(payments, batch_size=CHUNK)


_FIELDS = (
    "pk",
    "attempts",
    "amount",
    "pledge_id",
    "pledge__user_id",
    "pledge__currency",
    "pledge__campaign_id",
    "pledge__campaign__shop_id",
)


def cycle_charge_run(*, cycle_id: int, chunk_size: int = CHUNK) -> int:
    """Charge every box of a cut cycle that has not been asked yet (attempt 1). Safe to rerun: a box's
    attempt is counted and its Payment committed before the provider is called, one reference each."""
    charged = 0
    while True:
        with transaction.atomic(durable=True):
            ids = list(
                CycleDelivery.objects.select_for_update(skip_locked=True)
                .filter(cycle_id=cycle_id, status=DeliveryStatus.CHARGING, attempts=0)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk_size]
            )
            if ids:
                CycleDelivery.objects.filter(pk__in=ids).update(attempts=1)
            rows = list(CycleDelivery.objects.filter(pk__in=ids).values(*_FIELDS))
            payments = _payments_for(rows)
        if not ids:
            break
        payments_charge(payments)
        charged += len(ids)
    # Boxes whose Payment was committed but whose charge a killed worker never sent: send them now.
    stranded = list(
        Payment.objects.filter(
            purpose="cycle",
            status=PaymentStatus.PENDING,
            subject_id__in=CycleDelivery.objects.filter(
                cycle_id=cycle_id, status=DeliveryStatus.CHARGING
            ).values("pk"),
            created_at__lt=timezone.now() - dt.timedelta(seconds=60),
        )
    )
    if stranded:
        payments_charge(stranded)
    cycle_rollup_if_settled(cycle_id=cycle_id)
    return charged


def dunning_run(*, now: dt.datetime | None = None, chunk_size: int = CHUNK) -> int:
    """Beat entry: retry every box in dunning whose next attempt is due."""
    now = now or timezone.now()
    retried = 0
    while True:
        with transaction.atomic(durable=True):
            ids = list(
                CycleDelivery.objects.select_for_update(skip_locked=True)
                .filter(status=DeliveryStatus.DUNNING, next_attempt_at__lte=now)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk_size]
            )
            if not ids:
                return retried
            CycleDelivery.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1, next_attempt_at=None)
            payments = _payments_for(list(CycleDelivery.objects.filter(pk__in=ids).values(*_FIELDS)))
        payments_charge(payments)
        retried += len(ids)


def delivery_pay_now(*, user: AbstractBaseUser, delivery_id: int) -> dict:
    """The fan's "pay now" on a box in dunning: the next attempt, at once."""
    delivery = (
        CycleDelivery.objects.select_related("pledge", "cycle")
        .filter(pk=delivery_id, pledge__user=user)
        .first()
    )
    if delivery is None:
        raise NotFound()
    if delivery.status == DeliveryStatus.CHARGED:
        raise Conflict(_("This box is already paid."), code="already_paid")
    if delivery.status != DeliveryStatus.DUNNING:
        raise Conflict(_("This box has no payment to retry."), code="not_in_dunning")
    with transaction.atomic(durable=True):
        moved = CycleDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.DUNNING).update(
            attempts=F("attempts") + 1, next_attempt_at=None
        )
        if not moved:
            raise Conflict(_("This box has no payment to retry."), code="not_in_dunning")
        payments = _payments_for(list(CycleDelivery.objects.filter(pk=delivery.pk).values(*_FIELDS)))
    payments_charge(payments)
    delivery.refresh_from_db()
    return {"id": delivery.pk, "status": delivery.status, "attempts": delivery.attempts}


def cycle_settled(succeeded: list[Payment], failed: list[Payment]) -> None:
    """payments.hooks handler for "cycle": inside the settling transaction, once per payment."""
    now = timezone.now()
    if succeeded:
        ids = [p.subject_id for p in succeeded]
        rows = list(
            CycleDelivery.objects.select_for_update()
            .filter(pk__in=ids, status__in=[DeliveryStatus.CHARGING, DeliveryStatus.DUNNING])
            .order_by("pk")
            .values_list("pk", "cycle_id", "quantity", "status")
        )
        CycleDelivery.objects.filter(pk__in=[r[0] for r in rows]).update(
            status=DeliveryStatus.CHARGED, charged_at=now, next_attempt_at=None
        )
        by_cycle: dict[int, int] = {}
        for _pk, cycle_id, quantity, _status in rows:
            by_cycle[cycle_id] = by_cycle.get(cycle_id, 0) + quantity
        for cycle_id, quantity in sorted(by_cycle.items()):
            SubscriptionCycle.objects.filter(pk=cycle_id).update(quantity=F("quantity") + quantity)
        late = [r for r in rows if r[3] == DeliveryStatus.DUNNING]
        for pk, cycle_id, _q, _s in late:
            transaction.on_commit(functools.partial(_late_box_add, cycle_id, pk))
        if late:
            transaction.on_commit(
                functools.partial(_tell_many_task, [(pk, "cycle_paid") for pk, *_r in late])
            )
        for cycle_id in by_cycle:
            transaction.on_commit(functools.partial(_rollup_check_task, cycle_id))
    if failed:
        ids = [p.subject_id for p in failed]
        rows = list(
            CycleDelivery.objects.select_for_update()
            .filter(pk__in=ids, status__in=[DeliveryStatus.CHARGING, DeliveryStatus.DUNNING])
            .order_by("pk")
            .values_list("pk", "attempts", "pledge_id", "cycle_id")
        )
        skipped, pledges_paused = [], []
        retry: dict[int, list[int]] = {}
        for pk, attempts, pledge_id, _cycle_id in rows:
            if attempts >= MAX_ATTEMPTS:
                skipped.append(pk)
                pledges_paused.append(pledge_id)
            else:
                retry.setdefault(attempts, []).append(pk)
        tells: list[tuple[int, str]] = []
        for attempts, pks in sorted(retry.items()):
            CycleDelivery.objects.filter(pk__in=pks).update(
                status=DeliveryStatus.DUNNING, next_attempt_at=now + RETRY_AFTER[attempts]
            )
            tells += [(pk, f"cycle_failed:{attempts}") for pk in pks]
        if skipped:
            CycleDelivery.objects.filter(pk__in=skipped).update(
                status=DeliveryStatus.SKIPPED, next_attempt_at=None
            )
            Pledge.objects.filter(pk__in=pledges_paused, status=PledgeStatus.ACTIVE).update(
                status=PledgeStatus.PAUSED, updated_at=now
            )
            tells += [(pk, "cycle_skipped") for pk in skipped]
        # One notice task per settled batch (5% declines of 100k boxes are 5,000 notices, not 5,000 tasks).
        if tells:
            transaction.on_commit(functools.partial(_tell_many_task, tells))
        for cycle_id in {r[3] for r in rows}:
            transaction.on_commit(functools.partial(_rollup_check_task, cycle_id))


def _tell_many_task(items: list[tuple[int, str]]) -> None:
    from preorders.tasks import deliveries_tell_task

    deliveries_tell_task.delay([list(item) for item in items])


def _rollup_check_task(cycle_id: int) -> None:
    from preorders.tasks import cycle_rollup_if_settled_task

    cycle_rollup_if_settled_task.delay(cycle_id)


def cycle_rollup_if_settled(*, cycle_id: int) -> FactoryOrder | None:
    """Once no box of the cut cycle is waiting on its first charge, the paid boxes become its order."""
    from preorders.services.factory_orders import cycle_rollup

    cycle = SubscriptionCycle.objects.select_related("campaign").get(pk=cycle_id)
    if cycle.status != CycleStatus.CUT:
        return None
    if CycleDelivery.objects.filter(cycle_id=cycle_id, status=DeliveryStatus.CHARGING).exists():
        return None
    with transaction.atomic(durable=True):
        return cycle_rollup(cycle)


def _late_box_add(cycle_id: int, delivery_id: int) -> None:
    """A box paid in dunning after its cycle's order was built joins that order (once)."""
    from preorders.services.factory_orders import cycle_delivery_add

    try:
        cycle_delivery_add(cycle_id=cycle_id, delivery_id=delivery_id)
    except Exception:  # noqa: BLE001 - logged; the order page shows charged boxes from the deliveries
        logger.exception("adding late box %s to cycle %s failed", delivery_id, cycle_id)


_TEXTS = {
    "cycle_failed": "「%(title)s」第 %(n)s 期扣款未成功，我们会再试一次；也可以现在点“立即支付”。",
    "cycle_skipped": "「%(title)s」第 %(n)s 期多次扣款未成功，本期已跳过，订阅已暂停，可在“我的订单”恢复。",
    "cycle_paid": "「%(title)s」第 %(n)s 期已付款，会按时为您配送。",
}


def deliveries_tell_many(items: list[tuple[int, str]]) -> int:
    """delivery_tell for many boxes in one transaction and one batched append (once per box and step)."""
    from fans.chat.append import NewMessage, conversations_lock, messages_append
    from fans.chat.models import Side

    wanted = {int(pk): what for pk, what in items}
    if not wanted:
        return 0
    with transaction.atomic(durable=True):
        deliveries = list(
            CycleDelivery.objects.select_for_update(of=("self",))
            .select_related("pledge__campaign", "cycle")
            .filter(pk__in=list(wanted))
            .order_by("pk")
        )
        kinds = {d.pk: f"{wanted[d.pk]}:{d.pk}"[:40] for d in deliveries}
        told = set(
            PledgeNotice.objects.filter(
                pledge_id__in=[d.pledge_id for d in deliveries], kind__in=list(kinds.values())
            ).values_list("pledge_id", "kind")
        )
        fresh = [d for d in deliveries if (d.pledge_id, kinds[d.pk]) not in told]
        if not fresh:
            return 0
        PledgeNotice.objects.bulk_create(
            [PledgeNotice(pledge_id=d.pledge_id, kind=kinds[d.pk]) for d in fresh], ignore_conflicts=True
        )
        by_fan = {c.fan_id: c for c in conversations_lock(fan_ids=[d.pledge.fan_id for d in fresh]).values()}
        entries = []
        for d in fresh:
            conversation = by_fan.get(d.pledge.fan_id)
            if conversation is None:
                continue
            text, card = _delivery_notice(d, wanted[d.pk])
            entries.append(
                NewMessage(
                    conversation=conversation,
                    side=Side.SYSTEM,
                    kind=MessageKind.ORDER_CARD,
                    text=text,
                    payload=card,
                )
            )
        messages_append(entries)
    return len(fresh)


def _delivery_notice(delivery: CycleDelivery, what: str) -> tuple[str, dict]:
    pledge = delivery.pledge
    base = what.split(":")[0]
    text = _(_TEXTS[base]) % {"title": pledge.campaign.title, "n": delivery.cycle.number}
    card = {
        "card": base,
        "pledge": pledge.pk,
        "delivery": delivery.pk,
        "campaign": pledge.campaign_id,
        "title": pledge.campaign.title,
        "amount": str(delivery.amount),
        "currency": pledge.currency,
        "url": f"/me/orders/#delivery-{delivery.pk}",
    }
    if base == "cycle_failed":
        card["action"] = "pay_cycle"
    return text, card


def delivery_tell(*, delivery_id: int, what: str) -> bool:
    """A dunning notice with its "pay now" card, once per (box, step)."""
    return deliveries_tell_many([(delivery_id, what)]) == 1
