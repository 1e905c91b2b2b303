"""A subscription's cycle charges through the real app: declines enter dunning, then skip and pause; a fan
pays a box in dunning now."""

import datetime as dt

import pytest
from django.utils import timezone

from payments.ledger import statement
from payments.models import SimulatorRule
from preorders.models import (
    CycleDelivery,
    FactoryOrder,
    Pledge,
    SubscriptionCycle,
)
from preorders.services import pledge_place
from preorders.services.subscriptions import subscription_cutoffs_run
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


def test_cycle_charges_with_declines_enter_dunning_then_skip_and_pause(
    owner, shop, product, django_capture_on_commit_callbacks
):
    from tests.preorders.test_subscriptions import pass_cutoff, subscription

    campaign = subscription(owner, product[0])
    cycle = SubscriptionCycle.objects.get(campaign=campaign)
    fans = [FanFactory(shop=shop) for _ in range(4)]
    subs = [
        pledge_place(user=f.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)[0]
        for f in fans
    ]
    SimulatorRule.objects.create(user=fans[0].user, outcome="decline", times=3)
    pass_cutoff(cycle)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_cutoffs_run()
    statuses = dict(CycleDelivery.objects.values_list("pledge_id", "status"))
    assert statuses[subs[0]["id"]] == "dunning" and [statuses[s["id"]] for s in subs[1:]] == ["charged"] * 3
    cycle.refresh_from_db()
    assert cycle.quantity == 3
    order = FactoryOrder.objects.get(cycle=cycle)
    assert sum(line.quantity for line in order.lines.all()) == 3  # paid boxes only
    dunned = CycleDelivery.objects.get(pledge_id=subs[0]["id"])
    assert dunned.attempts == 1 and dunned.next_attempt_at > timezone.now() + dt.timedelta(hours=23)
    from preorders.services.cycle_charging import dunning_run

    for attempt in (2, 3):
        CycleDelivery.objects.filter(pk=dunned.pk).update(next_attempt_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            assert dunning_run() == 1
        dunned.refresh_from_db()
        assert dunned.attempts == attempt
    assert dunned.status == "skipped"
    assert Pledge.objects.get(pk=subs[0]["id"]).status == "paused"
    from fans.chat.models import Message

    cards = Message.objects.filter(conversation__fan=fans[0], kind="order_card").values_list(
        "payload", flat=True
    )
    assert [c["card"] for c in cards] == ["cycle_failed", "cycle_failed", "cycle_skipped"]
    assert statement(campaign_id=campaign.pk)["balanced"]


def test_pay_now_on_a_box_in_dunning(owner, shop, product, api_for, django_capture_on_commit_callbacks):
    from tests.preorders.test_subscriptions import pass_cutoff, subscription

    campaign = subscription(owner, product[0])
    cycle = SubscriptionCycle.objects.get(campaign=campaign)
    fan = FanFactory(shop=shop)
    sub = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)[0]
    SimulatorRule.objects.create(user=fan.user, outcome="decline", times=1)
    pass_cutoff(cycle)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_cutoffs_run()
    delivery = CycleDelivery.objects.get(pledge_id=sub["id"])
    assert delivery.status == "dunning"
    assert (
        api_for(FanFactory(shop=shop).user).post(f"/api/cycle-deliveries/{delivery.pk}/pay/").status_code
        == 404
    )
    with django_capture_on_commit_callbacks(execute=True):
        paid = api_for(fan.user).post(f"/api/cycle-deliveries/{delivery.pk}/pay/")
    assert paid.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "charged"
    again = api_for(fan.user).post(f"/api/cycle-deliveries/{delivery.pk}/pay/")
    assert again.status_code == 409 and again.json()["code"] == "already_paid"
    order = FactoryOrder.objects.get(cycle=cycle)
    assert sum(line.quantity for line in order.lines.all()) == 2  # the late box joined its order
