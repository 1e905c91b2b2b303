"""Advancing due enrollments, from the beat. Each enrollment is claimed with a row lock (SKIP LOCKED, so two
workers never take the same one) and re-checked (still active, still due); its steps then run in that one
transaction until a wait or the end: the message, the budget ledger row, the step's run and the enrollment's
new position commit together, and the message is announced only after the commit. A worker killed midway
rolls back everything, so the rerun sends once; each message also carries a fixed client id
(enrollment + step), and a step with a run already recorded is never run again."""

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from fans.bot.models import DeliveryStatus, PromoDelivery
from fans.bot.services.budget import promo_statuses, quiet_hours_end, quiet_hours_now
from fans.chat.append import NewMessage, conversations_lock, messages_append
from fans.chat.cards import card_build
from fans.chat.models import Fan, Message, MessageKind, Side
from fans.crm.models import TagSource
from fans.crm.services.tagging import fan_tags_bulk_add, fan_tags_bulk_remove
from journeys.models import Enrollment, EnrollmentState, JourneyStep, StepKind, StepOutcome, StepRun, Trigger
from journeys.services.cards import card_payload
from journeys.services.triggers import balance_still_unpaid

logger = logging.getLogger(__name__)

BATCH = 500
CLIENT_IDS = uuid.UUID("5f1b7a52-1f0e-4c59-9a57-6a2f3c1d0e77")
PROMO_SOURCE = "journey"
_SKIPS = {
    DeliveryStatus.SKIPPED_BUDGET: StepOutcome.SKIPPED_BUDGET,
    DeliveryStatus.SKIPPED_OPT_OUT: StepOutcome.SKIPPED_OPT_OUT,
    DeliveryStatus.SKIPPED_NO_CHANNEL: StepOutcome.SKIPPED_NO_CHANNEL,
}


def client_id_for(enrollment_id: int, step_id: int) -> uuid.UUID:
    return uuid.uuid5(CLIENT_IDS, f"journey/{enrollment_id}/{step_id}")


def journeys_advance(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat, every minute: run the due enrollments of enabled journeys (a disabled journey's fans wait)."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    ids = list(
        Enrollment.objects.filter(state=EnrollmentState.ACTIVE, next_run_at__lte=now, journey__enabled=True)
        .order_by("next_run_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    for pk in ids:
        try:
            outcome = _advance_one(pk, now)
        except Exception:  # one broken enrollment must not stop the others; the next beat retries it
            logger.exception("journey enrollment %s failed", pk)
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _finish(enrollment: Enrollment, state: str, now: dt.datetime) -> str:
    enrollment.state, enrollment.finished_at = state, now
    enrollment.save(update_fields=["state", "finished_at", "step_index", "next_run_at", "deferrals"])
    return state


def _advance_one(pk: int, now: dt.datetime) -> str:
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("journey__shop")
            .filter(pk=pk, state=EnrollmentState.ACTIVE, next_run_at__lte=now, journey__enabled=True)
            .first()
        )
        if enrollment is None:
            return "busy"  # another worker has it, or it changed meanwhile
        journey = enrollment.journey
        if journey.trigger == Trigger.BALANCE_UNPAID and not balance_still_unpaid(enrollment.trigger_ref):
            return _finish(enrollment, EnrollmentState.STOPPED, now)
        steps = list(JourneyStep.objects.filter(journey=journey).select_related("tag__group"))
        done = set(StepRun.objects.filter(enrollment=enrollment).values_list("step_id", flat=True))
        while enrollment.step_index < len(steps):
            step = steps[enrollment.step_index]
            if step.pk in done:
                enrollment.step_index += 1
                continue
            if step.kind == StepKind.WAIT:
                StepRun.objects.create(enrollment=enrollment, step=step, outcome=StepOutcome.WAITED, at=now)
                enrollment.step_index += 1
                enrollment.next_run_at = now + dt.timedelta(seconds=step.wait_seconds or 0)
                enrollment.save(update_fields=["step_index", "next_run_at"])
                return "waiting"
            if step.kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG):
                _tag(enrollment, step)
                StepRun.objects.create(enrollment=enrollment, step=step, outcome=StepOutcome.TAGGED, at=now)
                enrollment.step_index += 1
                continue
            outcome, message_id, due_at = _send(enrollment, step, now)
            if due_at is not None:
                # Quiet hours: the step waits for them to end; the budget is asked again then.
                enrollment.next_run_at, enrollment.deferrals = due_at, enrollment.deferrals + 1
                enrollment.save(update_fields=["next_run_at", "deferrals", "step_index"])
                return "deferred"
            StepRun.objects.create(
                enrollment=enrollment, step=step, outcome=outcome, message_id=message_id, at=now
            )
            enrollment.step_index += 1
        return _finish(enrollment, EnrollmentState.DONE, now)


def _tag(enrollment: Enrollment, step: JourneyStep) -> None:
    if step.tag is None:  # the tag was deleted since: nothing to do
        return
    change = fan_tags_bulk_add if step.kind == StepKind.ADD_TAG else fan_tags_bulk_remove
    change(fan_ids=[enrollment.fan_id], tags=[step.tag], source=TagSource.RULE, actor=None)


def _content(step: JourneyStep, enrollment: Enrollment) -> tuple[str, str, dict] | None:
    """(kind, text, payload) of the step's message, or None when there is nothing to show."""
    shop = enrollment.journey.shop
    if step.kind == StepKind.SEND_MESSAGE:
        fan_name = Fan.objects.filter(pk=enrollment.fan_id).values_list("display_name", flat=True).first()
        text = step.text.replace("{shop}", shop.name).replace("{name}", fan_name or "")
        return MessageKind.TEXT, text, {}
    spec = card_payload(shop, step.card or {})
    if spec is None:
        return None
    kind, payload = spec
    try:
        return kind, "", card_build(kind, shop, payload)
    except DomainError:
        return None


def _send(
    enrollment: Enrollment, step: JourneyStep, now: dt.datetime
) -> tuple[str, int | None, dt.datetime | None]:
    """(outcome, message id, None), or (_, None, due_at) when quiet hours defer it. Inside the caller's
    transaction; the fan's row is locked while the budget is read and written (as every sender does)."""
    journey, shop = enrollment.journey, enrollment.journey.shop
    content = _content(step, enrollment)
    if content is None:
        return StepOutcome.NO_CONTENT, None, None
    fan = (
        Fan.objects.select_for_update(of=("self",))
        .filter(pk=enrollment.fan_id)
        .values_list("pk", "promotions_opt_out", "user__is_active")
        .first()
    )
    if fan is None or not fan[2]:
        return StepOutcome.SKIPPED_NO_CHANNEL, None, None
    if journey.transactional:
        # A notice the fan must get: no marketing cap and no opt-out, but never in quiet hours.
        if quiet_hours_now(shop, now):
            return "", None, quiet_hours_end(shop, now)
        status = DeliveryStatus.SENT
    else:
        status = promo_statuses(shop=shop, fans=[(fan[0], fan[1])], now=now)[fan[0]]
        if status == DeliveryStatus.SKIPPED_QUIET:
            return "", None, quiet_hours_end(shop, now)
        if status != DeliveryStatus.SENT:
            PromoDelivery.objects.create(fan_id=fan[0], source=PROMO_SOURCE, status=status, created_at=now)
            return _SKIPS.get(status, StepOutcome.SKIPPED_BUDGET), None, None
    message_id = _append(enrollment, step, content)
    if message_id is None:
        return StepOutcome.SKIPPED_NO_CHANNEL, None, None
    if not journey.transactional:
        PromoDelivery.objects.create(
            fan_id=fan[0], source=PROMO_SOURCE, status=status, message_id=message_id, created_at=now
        )
    return StepOutcome.SENT, message_id, None


def _append(enrollment: Enrollment, step: JourneyStep, content: tuple[str, str, dict]) -> int | None:
    locked = conversations_lock(fan_ids=[enrollment.fan_id])
    if not locked:
        return None
    conversation = next(iter(locked.values()))
    cid = client_id_for(enrollment.pk, step.pk)
    existing = (
        Message.objects.filter(conversation_id=conversation.pk, client_id=cid)
        .values_list("pk", flat=True)
        .first()
    )
    if existing is not None:
        return existing
    kind, text, payload = content
    (message,) = messages_append(
        [
            NewMessage(
                conversation=conversation,
                # A transactional step (the balance nudge) is a notice, as preorders' own are: reach pushes it
                # to the lock screen even to fans who opted out of promotions (reach.services.push.is_marketing).
                side=Side.SYSTEM if enrollment.journey.transactional else Side.SHOP,
                kind=kind,
                text=text,
                payload=payload,
                client_id=cid,
                hands_off=False,
            )
        ]
    )
    return message.pk
