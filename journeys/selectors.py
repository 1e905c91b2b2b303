"""Reading journeys with their funnel: per step, the fans who reached it (entered), the messages it sent
(messaged) and the fans who converted within 7 days of that message: paid an order (a charge on one of their
pledges) or wrote to the shop."""

import datetime as dt
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from fans.chat.models import Message, Side
from journeys.models import Enrollment, EnrollmentState, Journey, JourneyStep, StepKind, StepOutcome, StepRun
from preorders.models import LedgerEntry
from shops.models import Shop

CONVERSION_WINDOW = dt.timedelta(days=7)


def step_counts(journey_ids: list[int]) -> dict[int, dict[str, int]]:
    """{step id: {"entered", "messaged", "converted"}} for these journeys' steps, in one query."""
    window_end = OuterRef("at") + CONVERSION_WINDOW
    replied = Message.objects.filter(
        conversation__fan_id=OuterRef("enrollment__fan_id"),
        side=Side.FAN,
        created_at__gt=OuterRef("at"),
        created_at__lte=window_end,
    )
    paid = LedgerEntry.objects.filter(
        pledge__fan_id=OuterRef("enrollment__fan_id"),
        kind="charge",
        created_at__gt=OuterRef("at"),
        created_at__lte=window_end,
    )
    sent = Q(outcome=StepOutcome.SENT)
    rows = (
        StepRun.objects.filter(step__journey_id__in=journey_ids)
        .alias(replied=Exists(replied), paid=Exists(paid))
        .values("step_id")
        .annotate(
            entered=Count("pk"),
            messaged=Count("pk", filter=sent),
            converted=Count("pk", filter=sent & (Q(replied=True) | Q(paid=True))),
        )
    )
    return {r["step_id"]: {k: r[k] for k in ("entered", "messaged", "converted")} for r in rows}


def enrollment_counts(journey_ids: list[int]) -> dict[int, dict[str, int]]:
    rows = (
        Enrollment.objects.filter(journey_id__in=journey_ids)
        .values("journey_id")
        .annotate(
            entered=Count("pk"),
            active=Count("pk", filter=Q(state=EnrollmentState.ACTIVE)),
            done=Count("pk", filter=Q(state=EnrollmentState.DONE)),
        )
    )
    return {r["journey_id"]: {k: r[k] for k in ("entered", "active", "done")} for r in rows}


def step_to_dict(step: JourneyStep, counts: dict[str, int] | None) -> dict[str, Any]:
    tag = step.tag
    return {
        "id": step.pk,
        "position": step.position,
        "kind": step.kind,
        "kind_label": str(StepKind(step.kind).label),
        "wait_seconds": step.wait_seconds,
        "wait_minutes": step.wait_seconds / 60 if step.wait_seconds else None,
        "text": step.text,
        "card": step.card or None,
        "tag": tag.pk if tag else None,
        "tag_name": tag.name if tag else "",
        "counts": counts or {"entered": 0, "messaged": 0, "converted": 0},
    }


def journeys_to_dicts(journeys: list[Journey]) -> list[dict[str, Any]]:
    ids = [j.pk for j in journeys]
    steps: dict[int, list[JourneyStep]] = {pk: [] for pk in ids}
    for step in JourneyStep.objects.filter(journey_id__in=ids).select_related("tag"):
        steps[step.journey_id].append(step)
    per_step = step_counts(ids)
    per_journey = enrollment_counts(ids)
    return [
        {
            "id": j.pk,
            "shop": j.shop_id,
            "template": j.template or None,
            "name": j.display_name,
            "trigger": j.trigger,
            "trigger_label": j.get_trigger_display(),
            "transactional": j.transactional,
            "enabled": j.enabled,
            "enabled_at": j.enabled_at,
            "created_at": j.created_at,
            "updated_at": j.updated_at,
            "counts": per_journey.get(j.pk, {"entered": 0, "active": 0, "done": 0}),
            "steps": [step_to_dict(s, per_step.get(s.pk)) for s in steps[j.pk]],
        }
        for j in journeys
    ]


def journey_to_dict(journey: Journey) -> dict[str, Any]:
    return journeys_to_dicts([journey])[0]


def journey_list(shop: Shop) -> list[Journey]:
    return list(Journey.objects.filter(shop=shop).order_by("pk"))
