"""Running journeys from the beat (issue 16 part 5): waits, sends under the attention budget (marketing capped,
transactional exempt from the cap but never from quiet hours), opt-outs, tag steps, conversion counting, and
no duplicate message when a worker dies midway and the step is retried."""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from core.zones import in_zone
from fans.bot.models import PromoDelivery
from fans.chat.models import Fan, Message, MessageKind, Side
from fans.crm.models import FanTag
from journeys.models import Enrollment, EnrollmentState, Journey, JourneyStep, StepKind, StepOutcome, StepRun
from journeys.services import runner, triggers
from tests.factories import FanFactory, ProductFactory
from tests.journeys.conftest import Template, beat, enable, set_hours
from tests.journeys.test_triggers import lapsed_tag

pytestmark = pytest.mark.django_db


def shop_messages(fan):
    return list(
        Message.objects.filter(conversation__fan=fan, side__in=(Side.SHOP, Side.SYSTEM))
        .order_by("seq")
        .values_list("kind", "text")
    )


def test_welcome_sends_the_message_waits_three_days_then_the_card(shop, open_hours):
    ProductFactory(shop=shop, name="玫瑰面霜")
    enable(shop, Template.WELCOME)
    fan = FanFactory(shop=shop, display_name="小红")
    now = timezone.now()
    beat(now)
    (first,) = shop_messages(fan)
    assert first[0] == MessageKind.TEXT and "小红" in first[1] and shop.name in first[1]
    enrollment = Enrollment.objects.get(fan=fan)
    assert enrollment.step_index == 2 and enrollment.next_run_at == now + dt.timedelta(days=3)
    beat(now + dt.timedelta(days=2))
    assert len(shop_messages(fan)) == 1  # still waiting
    # A new budget day (the welcome text counted once today).
    beat(now + dt.timedelta(days=3, minutes=1))
    kinds = [k for k, _t in shop_messages(fan)]
    assert kinds == [MessageKind.TEXT, MessageKind.PRODUCT_CARD]
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.DONE
    assert PromoDelivery.objects.filter(fan=fan, source="journey", status="sent").count() == 2


def test_over_budget_marketing_step_is_skipped_with_its_reason_and_the_journey_goes_on(shop):
    set_hours(shop, per_day=0)
    ProductFactory(shop=shop)
    enable(shop, Template.WELCOME)
    fan = FanFactory(shop=shop)
    beat()
    assert shop_messages(fan) == []
    run = StepRun.objects.get(enrollment__fan=fan, step__position=0)
    assert run.outcome == StepOutcome.SKIPPED_BUDGET
    assert PromoDelivery.objects.filter(fan=fan, source="journey", status="skipped_budget").count() == 1
    assert Enrollment.objects.get(fan=fan).step_index == 2  # on to the wait


def test_opted_out_fan_gets_no_marketing_step(shop, open_hours):
    enable(shop, Template.WELCOME)
    fan = FanFactory(shop=shop, promotions_opt_out=True)
    beat()
    assert shop_messages(fan) == []
    assert StepRun.objects.get(enrollment__fan=fan, step__position=0).outcome == StepOutcome.SKIPPED_OPT_OUT


def balance_enrollment(shop, fan):
    journey = enable(shop, Template.BALANCE_NUDGE)
    return journey, Enrollment.objects.create(
        journey=journey,
        fan=fan,
        trigger_ref="balance:1",
        occurred_at=timezone.now(),
        next_run_at=timezone.now(),
        entered_at=timezone.now(),
    )


def test_transactional_step_goes_through_the_cap_and_the_opt_out(shop, django_capture_on_commit_callbacks):
    set_hours(shop, per_day=0, per_week=0)
    fan = FanFactory(shop=shop, promotions_opt_out=True)
    _journey, enrollment = balance_enrollment(shop, fan)
    dispatched = []
    with (
        mock.patch("journeys.services.runner.balance_still_unpaid", return_value=True),
        mock.patch("reach.services.push.task_dispatch", side_effect=lambda *a: dispatched.append(a)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        runner.journeys_advance()
    (message,) = shop_messages(fan)
    assert "balance" in message[1] or "尾款" in message[1]
    assert not PromoDelivery.objects.filter(fan=fan).exists()  # not marketing: no budget spent
    # A notice, as preorders' own: reach pushes it to the offline fan as transactional, not marketing, so
    # it reaches the lock screen although the fan opted out of promotions.
    stored = Message.objects.get(conversation__fan=fan)
    assert stored.side == Side.SYSTEM
    assert [(ids, marketing) for _task, ids, marketing in dispatched] == [([stored.pk], [])]


def quiet_now(shop):
    local = in_zone(timezone.now(), shop.timezone)
    start = (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    return set_hours(shop, quiet_start=start, quiet_end=end)


def test_quiet_hours_defer_transactional_steps_to_their_end(shop):
    quiet_now(shop)
    fan = FanFactory(shop=shop)
    _journey, enrollment = balance_enrollment(shop, fan)
    with mock.patch("journeys.services.runner.balance_still_unpaid", return_value=True):
        assert runner.journeys_advance()["deferred"] == 1
        assert shop_messages(fan) == []
        enrollment.refresh_from_db()
        assert enrollment.state == EnrollmentState.ACTIVE and enrollment.deferrals == 1
        assert enrollment.next_run_at > timezone.now() + dt.timedelta(minutes=50)
        assert runner.journeys_advance() == {}  # not due again until then
        # At the end of quiet hours it goes.
        runner.journeys_advance(now=enrollment.next_run_at + dt.timedelta(seconds=1))
    assert len(shop_messages(fan)) == 1


def test_quiet_hours_defer_marketing_steps_too(shop):
    quiet_now(shop)
    enable(shop, Template.WELCOME)
    fan = FanFactory(shop=shop)
    _enrolled, advanced = beat()
    assert advanced.get("deferred") == 1 and shop_messages(fan) == []
    assert not StepRun.objects.filter(enrollment__fan=fan).exists()


def test_a_paid_balance_stops_the_nudge(shop, open_hours):
    fan = FanFactory(shop=shop)
    _journey, enrollment = balance_enrollment(shop, fan)  # no such pledge: nothing is owed
    runner.journeys_advance()
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.STOPPED and shop_messages(fan) == []


def test_a_worker_killed_after_the_message_rolls_back_and_the_retry_sends_once(shop, open_hours):
    enable(shop, Template.WELCOME)
    fan = FanFactory(shop=shop)
    triggers.journeys_enroll()

    def die(**kwargs):
        raise SystemExit("worker killed")

    with mock.patch.object(StepRun.objects, "create", side_effect=die), pytest.raises(SystemExit):
        runner._advance_one(Enrollment.objects.get(fan=fan).pk, timezone.now())
    assert shop_messages(fan) == []  # the message went with the rolled-back transaction
    runner.journeys_advance()
    runner.journeys_advance()
    assert len(shop_messages(fan)) == 1
    message = Message.objects.get(conversation__fan=fan, side=Side.SHOP)
    enrollment = Enrollment.objects.get(fan=fan)
    step = JourneyStep.objects.get(journey=enrollment.journey, position=0)
    assert message.client_id == runner.client_id_for(enrollment.pk, step.pk)


def test_winback_adds_its_tag(shop, open_hours):
    from fans.crm.models import FanTagEvent

    journey = enable(shop, Template.WINBACK)
    fan = FanFactory(shop=shop)
    FanTagEvent.objects.create(fan=fan, tag=lapsed_tag(), action="add", source="system")
    now = timezone.now()
    beat(now)
    beat(now + dt.timedelta(days=2, minutes=1))
    tag_step = JourneyStep.objects.get(journey=journey, kind=StepKind.ADD_TAG)
    assert FanTag.objects.filter(fan=fan, tag=tag_step.tag, source="rule").exists()
    assert Enrollment.objects.get(fan=fan).state == EnrollmentState.DONE


def test_conversion_is_a_reply_or_a_paid_order_within_seven_days(shop, open_hours, api_for, owner):
    journey = enable(shop, Template.WELCOME)
    replied, late, silent = FanFactory(shop=shop), FanFactory(shop=shop), FanFactory(shop=shop)
    beat()
    sent_at = {r.enrollment.fan_id: r.at for r in StepRun.objects.filter(step__position=0)}
    for fan, after in ((replied, dt.timedelta(days=2)), (late, dt.timedelta(days=8))):
        conversation = fan.conversation
        Message.objects.create(
            conversation=conversation,
            seq=conversation.last_seq + 100,
            side=Side.FAN,
            kind=MessageKind.TEXT,
            text="谢谢",
        )
        Message.objects.filter(conversation=conversation, side=Side.FAN).update(
            created_at=sent_at[fan.pk] + after
        )
    body = api_for(owner).get(f"/api/journeys/{journey.pk}/").json()
    first = body["steps"][0]
    assert first["counts"] == {"entered": 3, "messaged": 3, "converted": 1}
    assert silent.pk in sent_at
    assert body["steps"][1]["counts"]["entered"] == 3 and body["steps"][2]["counts"]["entered"] == 0


def test_a_fan_whose_account_is_closed_has_no_channel(shop, open_hours):
    enable(shop, Template.WELCOME)
    fan = FanFactory(shop=shop)
    type(fan.user).objects.filter(pk=fan.user_id).update(is_active=False)
    beat()
    assert (
        StepRun.objects.get(enrollment__fan=fan, step__position=0).outcome == StepOutcome.SKIPPED_NO_CHANNEL
    )
    assert Fan.objects.filter(pk=fan.pk).exists() and Journey.objects.filter(shop=shop).count() == 3
