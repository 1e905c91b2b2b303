import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import Conflict
from preorders.models import Campaign, CycleDelivery, FactoryOrder, SubscriptionCycle
from preorders.services import (
    cycle_cut,
    pledge_place,
    subscription_cancel,
    subscription_cutoffs_run,
    subscription_pause,
    subscription_resume,
    subscription_skip,
)
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db


def subscription(owner, product, **kw):
    return make_campaign(
        owner,
        product,
        kind="subscription",
        cadence="weekly",
        cycles=2,
        cutoff_hours=48,
        deadline=(timezone.now() + dt.timedelta(days=5)).isoformat(),
        tiers=[],
        cap=None,
        per_fan_limit=None,
        **kw,
    )


def pass_cutoff(cycle):
    SubscriptionCycle.objects.filter(pk=cycle.pk).update(cutoff_at=timezone.now())


def test_cutoff_turns_active_subscriptions_into_a_factory_order(
    owner, shop, product, django_capture_on_commit_callbacks
):
    campaign = subscription(owner, product[0])
    first = SubscriptionCycle.objects.get(campaign=campaign)
    assert first.number == 1 and first.delivery_at - first.cutoff_at == dt.timedelta(hours=48)
    fans = [FanFactory(shop=shop) for _ in range(4)]
    subs = [
        pledge_place(user=f.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=3)[0]
        for f in fans
    ]
    subscription_skip(user=fans[0].user, pledge_id=subs[0]["id"])
    subscription_pause(user=fans[1].user, pledge_id=subs[1]["id"])
    subscription_cancel(user=fans[2].user, pledge_id=subs[2]["id"], reason="太多了")
    pass_cutoff(first)
    # The cut-off charges each box after its commit; the provider's notification settles the charge.
    with django_capture_on_commit_callbacks(execute=True):
        assert subscription_cutoffs_run() == [first.pk]
    first.refresh_from_db()
    assert first.status == "cut" and first.quantity == 3
    assert list(CycleDelivery.objects.values_list("pledge_id", "quantity", "amount")) == [
        (subs[3]["id"], 3, Decimal("1500.00"))
    ]
    order = FactoryOrder.objects.get(cycle=first)
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [("F-DOWN-L", 3)]
    # Rerunning the cut-off changes nothing.
    cycle_cut(cycle_id=first.pk)
    assert CycleDelivery.objects.count() == 1 and FactoryOrder.objects.count() == 1
    # After the cut-off nobody can skip that box any more, but the next cycle exists.
    second = SubscriptionCycle.objects.get(campaign=campaign, number=2)
    assert second.delivery_at - first.delivery_at == dt.timedelta(weeks=1)
    subscription_resume(user=fans[1].user, pledge_id=subs[1]["id"])
    pass_cutoff(second)
    with django_capture_on_commit_callbacks(execute=True):
        cycle_cut(cycle_id=second.pk)
    second.refresh_from_db()
    assert second.quantity == 9  # fans 0, 1 and 3
    assert Campaign.objects.get(pk=campaign.pk).status == "ended"


def test_skip_after_cutoff_rejected(owner, shop, product, fan):
    campaign = subscription(
        owner,
        product[0],
    )
    body, _ = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)
    SubscriptionCycle.objects.filter(campaign=campaign).update(cutoff_at=timezone.now())
    with pytest.raises(Conflict) as err:
        subscription_skip(user=fan.user, pledge_id=body["id"])
    assert err.value.code == "past_cutoff"
    with pytest.raises(Conflict):
        subscription_resume(user=fan.user, pledge_id=body["id"])
