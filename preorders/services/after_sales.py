"""After-sales: a fan asks for a refund or a return on a delivered pledge; the shop approves or declines.

A request may be made from delivery up to 30 days after it, one open request per pledge at a time (the
database keeps that too), for at most what the fan has paid net. Approving writes the Credit (the intent)
with the decision in one transaction, then pays it out through the provider (once per reference), so an
approval that died half-way is finished by approving again or by the credit sweep. The money comes out of
the fans' held money while the campaign's money is not released to the factory and shop yet, and out of
the shop's settlement after.
"""

import datetime as dt
import functools
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from core.events import announce
from payments.ledger import pledge_cash
from payments.models import Account, LedgerTransaction, TransactionKind
from preorders.access import access_after_sales_to_decide, access_pledge
from preorders.fulfilment_models import AfterSalesKind, AfterSalesStatus, ShipmentStatus
from preorders.models import AfterSalesRequest, Credit, CreditKind, Pledge, ShipmentItem
from preorders.money import money_round
from preorders.services.payments import credit_pay_out

WINDOW = dt.timedelta(days=30)
REASON_MAX = 500
TELL_TASK = "preorders.tasks.after_sales_tell_task"


def pledge_delivered_at(pledge_id: int) -> dt.datetime | None:
    """When the pledge's latest parcel was delivered (None: not delivered)."""
    return ShipmentItem.objects.filter(
        pledge_id=pledge_id, shipment__status=ShipmentStatus.DELIVERED
    ).aggregate(at=Max("shipment__delivered_at"))["at"]


def _reason_clean(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise Invalid(_("Please give a reason."), code="reason_required")
    if len(text) > REASON_MAX:
        raise Invalid(
            _("The reason is longer than %(n)d characters.") % {"n": REASON_MAX}, code="reason_invalid"
        )
    return text


def _amount_clean(value: Any, paid: Decimal) -> Decimal:
    if value in (None, ""):
        amount = paid
    else:
        try:
            amount = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise Invalid(_("The amount must be a number."), code="amount_invalid") from None
        if not amount.is_finite() or amount != money_round(amount):
            raise Invalid(_("The amount must be a number of yuan and fen."), code="amount_invalid")
    if amount <= 0 or amount > paid:
        raise Invalid(
            _("The amount must be more than 0 and at most what you paid (¥%(paid)s).") % {"paid": paid},
            code="amount_invalid",
            detail={"paid": str(paid)},
        )
    return amount


def after_sales_request(
    *,
    user: AbstractBaseUser,
    pledge_id: int,
    kind: Any,
    reason: Any,
    amount: Any = None,
    photo: UploadedFile | None = None,
) -> AfterSalesRequest:
    """A fan's request on their own delivered pledge (someone else's: 404)."""
    from fans.chat.images import image_process

    pledge = access_pledge(user, pledge_id)
    if kind not in AfterSalesKind.values:
        raise Invalid(_("Ask for a refund or a return."), code="kind_invalid")
    reason = _reason_clean(reason)
    delivered_at = pledge_delivered_at(pledge.pk)
    if delivered_at is None:
        raise Conflict(_("After-sales help opens once your order is delivered."), code="not_delivered")
    if timezone.now() > delivered_at + WINDOW:
        raise Conflict(
            _("After-sales requests close 30 days after delivery."), code="after_sales_window_closed"
        )
    if AfterSalesRequest.objects.filter(pledge=pledge, status=AfterSalesStatus.OPEN).exists():
        raise Conflict(_("You already have an open request for this order."), code="after_sales_open")
    amount = _amount_clean(amount, pledge_cash(pledge.pk))
    # Checked (and EXIF-stripped) before anything is written.
    image = image_process(photo).image if photo is not None else None
    try:
        with transaction.atomic(durable=True):
            request = AfterSalesRequest(
                pledge=pledge, kind=kind, reason=reason, amount=amount, currency=pledge.currency
            )
            if image is not None:
                request.photo.save(image.name, image, save=False)
            request.save()
            announce(
                [f"shop.{pledge.campaign.shop_id}"],
                {
                    "type": "after_sales.new",
                    "request": request.pk,
                    "pledge": pledge.pk,
                    "campaign": pledge.campaign_id,
                },
            )
    except IntegrityError:
        if request.photo:
            request.photo.delete(save=False)
        raise Conflict(
            _("You already have an open request for this order."), code="after_sales_open"
        ) from None
    return request


def campaign_released(campaign_id: int) -> bool:
    """The campaign's money has gone to the factory, the shop and the platform (a release posting)."""
    return LedgerTransaction.objects.filter(campaign_id=campaign_id, kind=TransactionKind.RELEASE).exists()


def refund_reference(request_id: int) -> str:
    return f"aftersales-{request_id}-refund"


def after_sales_pay_out(request: AfterSalesRequest) -> bool:
    """Pay an approved request's credit; safe to rerun."""
    credit = Credit.objects.select_related("pledge").get(pk=request.credit_id)
    source = Account.SHOP_PAYABLE if campaign_released(credit.pledge.campaign_id) else Account.FANS_HELD
    return credit_pay_out(credit=credit, kind=TransactionKind.AFTER_SALES_REFUND, source=source)


def after_sales_approve(*, user: AbstractBaseUser, request_id: int, reason: Any = "") -> AfterSalesRequest:
    """The shop approves: the credit and the decision in one transaction, then the refund. Approving an
    approved request finishes its payout (a crash half-way); a declined one is 409."""
    note = "" if reason is None else str(reason).strip()[:REASON_MAX]
    with transaction.atomic(durable=True):
        request = access_after_sales_to_decide(user, request_id, lock=True)
        if request.status == AfterSalesStatus.DECLINED:
            raise Conflict(_("This request was declined already."), code="after_sales_decided")
        if request.status == AfterSalesStatus.OPEN:
            paid = pledge_cash(request.pledge_id)
            if request.amount > paid:
                raise Conflict(
                    _("The amount is more than the fan has paid now (¥%(paid)s).") % {"paid": paid},
                    code="amount_invalid",
                    detail={"paid": str(paid)},
                )
            credit = Credit.objects.create(
                pledge_id=request.pledge_id,
                kind=CreditKind.AFTER_SALES_REFUND,
                amount=request.amount,
                currency=request.currency,
                reference=refund_reference(request.pk),
                note=f"{request.kind}: {request.reason}"[:200],
            )
            request.status, request.credit = AfterSalesStatus.APPROVED, credit
            request.decision_reason, request.decided_by, request.decided_at = note, user, timezone.now()
            request.save(update_fields=["status", "credit", "decision_reason", "decided_by", "decided_at"])
            transaction.on_commit(functools.partial(_tell, request.pk, "approved"))
    after_sales_pay_out(request)
    request.refresh_from_db()
    return request


def after_sales_decline(*, user: AbstractBaseUser, request_id: int, reason: Any) -> AfterSalesRequest:
    reason = _reason_clean(reason)
    with transaction.atomic(durable=True):
        request = access_after_sales_to_decide(user, request_id, lock=True)
        if request.status != AfterSalesStatus.OPEN:
            raise Conflict(_("This request was decided already."), code="after_sales_decided")
        request.status = AfterSalesStatus.DECLINED
        request.decision_reason, request.decided_by, request.decided_at = reason, user, timezone.now()
        request.save(update_fields=["status", "decision_reason", "decided_by", "decided_at"])
        transaction.on_commit(functools.partial(_tell, request.pk, "declined"))
    return request


def after_sales_payouts_sweep(*, older_than_s: int = 120) -> int:
    """Approved requests whose refund a crash interrupted: pay them out (beat, with the ship-by sweep)."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_s)
    done = 0
    for request in AfterSalesRequest.objects.filter(
        status=AfterSalesStatus.APPROVED, credit__paid_out=False, decided_at__lt=cutoff
    ).order_by("pk")[:500]:
        done += after_sales_pay_out(request)
    return done


def _tell(request_id: int, what: str) -> None:
    from core.tasks import task_dispatch

    task_dispatch(TELL_TASK, request_id, what)


def after_sales_tell(*, request_id: int, what: str) -> bool:
    from preorders.services.notices import pledge_tell

    request = AfterSalesRequest.objects.filter(pk=request_id).first()
    if request is None:
        return False

    def text(pledge: Pledge) -> str:
        values = {"title": pledge.campaign.title, "amount": request.amount, "reason": request.decision_reason}
        if what == "approved":
            return (
                _(
                    "Your after-sales request for “%(title)s” was approved: ¥%(amount)s is on its way back to you."
                )
                % values
            )
        return _("Your after-sales request for “%(title)s” was declined: %(reason)s") % values

    return pledge_tell(
        pledge_id=request.pledge_id,
        what=f"after_sales_{what}",
        key=f":{request.pk}",
        text=text,
        card={"amount": str(request.amount), "request": request.pk},
    )
