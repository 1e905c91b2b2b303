"""Journeys in the demo: shop1's three ready-made journeys are on, with a month of believable history: fans
who followed got the welcome (a few over the attention budget or opted out), those past the three-day wait got
the card; lapsed fans are in the win-back, a few confirmed pledges in the balance nudge. Conversions are what
the seeded chat and payments say (a fan reply or a paid order within 7 days of a step's message). Idempotent:
made once."""

import datetime as dt

from django.db.models import Max
from django.utils import timezone

from fans.chat.models import Fan, Message, Side
from journeys.models import Enrollment, EnrollmentState, Journey, JourneyStep, StepKind, StepOutcome, StepRun
from journeys.services.templates import journeys_ensure
from shops.models import Shop

WELCOME_FANS, WINBACK_FANS, BALANCE_FANS = 36, 9, 5


def _journey(shop: Shop, template: str, now: dt.datetime) -> tuple[Journey, list[JourneyStep]]:
    journey = Journey.objects.get(shop=shop, template=template)
    Journey.objects.filter(pk=journey.pk).update(enabled=True, enabled_at=now - dt.timedelta(days=30))
    return journey, list(JourneyStep.objects.filter(journey=journey))


def _run(
    journey: Journey, steps: list[JourneyStep], fans: list[int], last_said: dict, now: dt.datetime
) -> None:
    """Each fan walks the steps from a start a few days back; waits hold them where the time has not come."""
    enrollments, runs = [], []
    for i, fan_id in enumerate(fans):
        said = last_said.get(fan_id)
        # Every third fan wrote a day or two after the first message (a conversion the funnel counts).
        start = (
            said - dt.timedelta(days=1, hours=i % 5)
            if said and i % 3 == 0
            else now - dt.timedelta(days=1 + i % 9)
        )
        enrollments.append(
            Enrollment(
                journey=journey,
                fan_id=fan_id,
                trigger_ref="demo" if journey.template != "balance_nudge" else f"balance:demo{i}",
                occurred_at=start,
                next_run_at=start,
                entered_at=start,
            )
        )
    Enrollment.objects.bulk_create(enrollments)
    for i, enrollment in enumerate(enrollments):
        at = enrollment.entered_at
        index = 0
        for step in steps:
            outcome = StepOutcome.WAITED if step.kind == StepKind.WAIT else StepOutcome.SENT
            if step.kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG):
                outcome = StepOutcome.TAGGED
            elif outcome == StepOutcome.SENT and journey.template != "balance_nudge" and i % 9 == 4:
                outcome = StepOutcome.SKIPPED_BUDGET
            elif outcome == StepOutcome.SENT and journey.template != "balance_nudge" and i % 17 == 8:
                outcome = StepOutcome.SKIPPED_OPT_OUT
            runs.append(StepRun(enrollment=enrollment, step=step, outcome=outcome, at=at))
            index += 1
            if step.kind == StepKind.WAIT:
                at = at + dt.timedelta(seconds=step.wait_seconds or 0)
                if at > now:
                    break
        enrollment.step_index = index
        if index >= len(steps):
            enrollment.state, enrollment.finished_at, enrollment.next_run_at = EnrollmentState.DONE, at, at
        else:
            enrollment.next_run_at = at
    StepRun.objects.bulk_create(runs)
    Enrollment.objects.bulk_update(enrollments, ["step_index", "state", "finished_at", "next_run_at"])


def demo_journeys_ensure() -> int:
    shop = Shop.objects.filter(slug="shop1").first()
    if shop is None:
        return 0
    journeys_ensure(shop, language="zh-hans")
    if Enrollment.objects.filter(journey__shop=shop).exists():
        return 0
    now = timezone.now()
    fans = list(Fan.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    last_said = dict(
        Message.objects.filter(conversation__shop=shop, side=Side.FAN)
        .values("conversation__fan_id")
        .annotate(at=Max("created_at"))
        .values_list("conversation__fan_id", "at")
    )
    welcome, welcome_steps = _journey(shop, "welcome", now)
    _run(welcome, welcome_steps, fans[:WELCOME_FANS], last_said, now)
    winback, winback_steps = _journey(shop, "winback", now)
    _run(winback, winback_steps, fans[-WINBACK_FANS:], last_said, now)
    nudge, nudge_steps = _journey(shop, "balance_nudge", now)
    _run(nudge, nudge_steps, fans[WELCOME_FANS : WELCOME_FANS + BALANCE_FANS], last_said, now)
    return Enrollment.objects.filter(journey__shop=shop).count()
