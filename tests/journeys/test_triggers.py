"""Journey triggers (issue 16 part 5): each enrolls a fan once per occurrence, set-based from the beat, robust
to reruns and missed beats; events from before the journey was turned on never enroll."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from fans.crm.models import FanTagEvent, Tag, TagGroup
from journeys.models import Enrollment, Journey, JourneyStep, StepKind, Trigger, TriggerWatermark
from journeys.services import triggers
from preorders.models import Campaign, Pledge, SubscriptionCycle, SubscriptionSkip
from preorders.services import pledge_place
from tests.factories import FanFactory
from tests.journeys.conftest import Template, beat, enable
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db


def custom(shop, trigger, *, text="你好"):
    journey = Journey.objects.create(
        shop=shop,
        name=trigger,
        trigger=trigger,
        enabled=True,
        enabled_at=timezone.now() - dt.timedelta(hours=1),
    )
    JourneyStep.objects.create(journey=journey, position=0, kind=StepKind.SEND_MESSAGE, text=text)
    return journey


def enrolled(journey):
    return list(Enrollment.objects.filter(journey=journey).values_list("fan_id", "trigger_ref"))


def test_followed_the_shop_enrolls_each_new_fan_once_and_reruns_add_nobody(shop, open_hours):
    journey = enable(shop, Template.WELCOME)
    fan = FanFactory(shop=shop)
    first, _ = beat()
    assert first[Trigger.FOLLOWED] == 1
    again, _ = beat()
    assert again[Trigger.FOLLOWED] == 0
    assert enrolled(journey) == [(fan.pk, "followed")]


def test_fans_who_joined_before_the_journey_was_turned_on_are_not_enrolled(shop, open_hours):
    from fans.chat.models import Fan

    old = FanFactory(shop=shop)
    Fan.objects.filter(pk=old.pk).update(joined_at=timezone.now() - dt.timedelta(minutes=50))
    enable(shop, Template.WELCOME, since=dt.timedelta(minutes=30))
    journey = Journey.objects.get(shop=shop, template=Template.WELCOME)
    new = FanFactory(shop=shop)
    beat()
    assert enrolled(journey) == [(new.pk, "followed")]


def test_missed_beats_are_caught_up_from_the_watermark(shop, open_hours):
    journey = enable(shop, Template.WELCOME, since=dt.timedelta(hours=5))
    TriggerWatermark.objects.update_or_create(
        trigger=Trigger.FOLLOWED, defaults={"scanned_to": timezone.now() - dt.timedelta(hours=3)}
    )
    fan = FanFactory(shop=shop)
    from fans.chat.models import Fan

    Fan.objects.filter(pk=fan.pk).update(
        joined_at=timezone.now() - dt.timedelta(hours=2)
    )  # during the outage
    triggers.journeys_enroll()
    assert enrolled(journey) == [(fan.pk, "followed")]
    assert TriggerWatermark.objects.get(trigger=Trigger.FOLLOWED).scanned_to > timezone.now() - dt.timedelta(
        minutes=1
    )


def test_first_paid_order_enrolls_on_the_first_deposit_only(owner, shop, open_hours):
    from tests.preorders.conftest import shop_product

    product, variant, _v2 = shop_product(shop)
    campaign = make_campaign(owner, product)
    journey = custom(shop, Trigger.FIRST_PAID)
    fan = FanFactory(shop=shop)
    pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)
    assert triggers.journeys_enroll()[Trigger.FIRST_PAID] == 1
    pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)
    assert triggers.journeys_enroll()[Trigger.FIRST_PAID] == 0
    assert enrolled(journey) == [(fan.pk, "first_paid")]


def _confirm(pledge_id: int, campaign: Campaign, decided_ago: dt.timedelta) -> None:
    Pledge.objects.filter(pk=pledge_id).update(
        status="confirmed", final_unit_price=Decimal("450.00"), balance_due=Decimal("405.00")
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        status="succeeded", decided_at=timezone.now() - decided_ago
    )


def test_balance_unpaid_after_24_hours_enrolls_once_per_pledge(owner, shop, open_hours):
    from tests.preorders.conftest import shop_product

    product, variant, _v2 = shop_product(shop)
    campaign = make_campaign(owner, product)
    journey = enable(shop, Template.BALANCE_NUDGE, since=dt.timedelta(days=3))
    late, fresh = FanFactory(shop=shop), FanFactory(shop=shop)
    p1 = pledge_place(user=late.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)[0]
    p2 = pledge_place(user=fresh.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)[0]
    _confirm(p1["id"], campaign, dt.timedelta(hours=25))
    Pledge.objects.filter(pk=p2["id"]).update(
        status="confirmed", final_unit_price=Decimal("450.00"), balance_due=Decimal("405.00")
    )
    assert triggers.journeys_enroll()[Trigger.BALANCE_UNPAID] == 2  # both: one campaign decided 25 h ago
    assert triggers.journeys_enroll()[Trigger.BALANCE_UNPAID] == 0
    Campaign.objects.filter(pk=campaign.pk).update(decided_at=timezone.now() - dt.timedelta(hours=23))
    assert sorted(enrolled(journey)) == sorted(
        [(late.pk, f"balance:{p1['id']}"), (fresh.pk, f"balance:{p2['id']}")]
    )


def test_balance_not_yet_24_hours_overdue_does_not_enroll(owner, shop, open_hours):
    from tests.preorders.conftest import shop_product

    product, variant, _v2 = shop_product(shop)
    campaign = make_campaign(owner, product)
    journey = enable(shop, Template.BALANCE_NUDGE, since=dt.timedelta(days=3))
    fan = FanFactory(shop=shop)
    p = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)[0]
    _confirm(p["id"], campaign, dt.timedelta(hours=23))
    triggers.journeys_enroll()
    assert enrolled(journey) == []


def test_subscription_skipped_twice_enrolls_at_the_second_skip(owner, shop, open_hours):
    from tests.preorders.conftest import shop_product

    product, variant, _v2 = shop_product(shop)
    campaign = make_campaign(
        owner,
        product,
        kind="subscription",
        cadence="weekly",
        cycles=3,
        cutoff_hours=48,
        deadline=(timezone.now() + dt.timedelta(days=5)).isoformat(),
        tiers=[],
        cap=None,
        per_fan_limit=None,
    )
    journey = custom(shop, Trigger.SUBSCRIPTION_SKIPPED)
    fan = FanFactory(shop=shop)
    pledge = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)[0]
    first = SubscriptionCycle.objects.get(campaign=campaign)
    second = SubscriptionCycle.objects.create(
        campaign=campaign,
        number=2,
        delivery_at=first.delivery_at + dt.timedelta(days=7),
        cutoff_at=first.cutoff_at + dt.timedelta(days=7),
    )
    SubscriptionSkip.objects.create(pledge_id=pledge["id"], cycle=first)
    assert triggers.journeys_enroll()[Trigger.SUBSCRIPTION_SKIPPED] == 0
    SubscriptionSkip.objects.create(pledge_id=pledge["id"], cycle=second)
    assert triggers.journeys_enroll()[Trigger.SUBSCRIPTION_SKIPPED] == 1
    assert triggers.journeys_enroll()[Trigger.SUBSCRIPTION_SKIPPED] == 0
    assert enrolled(journey) == [(fan.pk, f"skip2:{pledge['id']}")]


def lapsed_tag() -> Tag:
    group, _ = TagGroup.objects.get_or_create(
        shop=None, code="lifecycle", defaults={"name_zh": "生命周期", "name_en": "Lifecycle"}
    )
    return Tag.objects.get_or_create(
        group=group, code="lapsed", defaults={"name_zh": "流失", "name_en": "Lapsed"}
    )[0]


def test_entering_the_lapsed_tag_enrolls_system_events_only(shop, open_hours):
    journey = enable(shop, Template.WINBACK)
    tag = lapsed_tag()
    fan, by_hand = FanFactory(shop=shop), FanFactory(shop=shop)
    event = FanTagEvent.objects.create(fan=fan, tag=tag, action="add", source="system")
    FanTagEvent.objects.create(fan=by_hand, tag=tag, action="add", source="owner")
    FanTagEvent.objects.create(fan=by_hand, tag=tag, action="remove", source="system")
    assert triggers.journeys_enroll()[Trigger.LAPSED] == 1
    assert triggers.journeys_enroll()[Trigger.LAPSED] == 0
    assert enrolled(journey) == [(fan.pk, f"lapsed:{event.pk}")]


def test_birthday_enrolls_on_the_day_in_the_shops_time_zone_once_a_year(shop, open_hours):
    from core.zones import in_zone

    journey = custom(shop, Trigger.BIRTHDAY, text="生日快乐！")
    now = timezone.now()
    today = in_zone(now, shop.timezone).date()
    tomorrow = today + dt.timedelta(days=1)
    fan = FanFactory(shop=shop, birthday_month=today.month, birthday_day=today.day)
    FanFactory(shop=shop, birthday_month=tomorrow.month, birthday_day=tomorrow.day)
    FanFactory(shop=shop)  # did not share it
    assert triggers.journeys_enroll(now=now)[Trigger.BIRTHDAY] == 1
    assert triggers.journeys_enroll(now=now + dt.timedelta(minutes=1))[Trigger.BIRTHDAY] == 0
    assert enrolled(journey) == [(fan.pk, f"birthday:{today.year}")]


def test_a_disabled_journey_enrolls_nobody(shop, open_hours):
    journeys = enable(shop, Template.WELCOME)
    Journey.objects.filter(pk=journeys.pk).update(enabled=False)
    FanFactory(shop=shop)
    beat()
    assert enrolled(journeys) == []
