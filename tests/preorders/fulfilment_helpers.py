"""The fulfilment tests' shared setup: a closed campaign whose fans paid their balances (one lapsed) and its
factory order, and the steps the tests take on it (tests/preorders/test_fulfilment*.py; review_helpers.py
and the browser tests build the same order through build_order)."""

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from fans.chat.models import Fan, Message, MessageKind
from payments.ledger import statement
from preorders.models import (
    Campaign,
    FactoryOrder,
    Pledge,
    Shipment,
)
from preorders.services import campaign_close, pledge_place
from preorders.services.balance import balance_lapse_run, balance_pay
from preorders.services.factory_orders import campaign_after_lapse
from tests.factories import FanFactory
from tests.preorders.conftest import expire, make_campaign

# What `import *` brings into a test module: its fixtures (pytest finds them by name).
__all__ = ["flow"]


@dataclass
class Flow:
    campaign: Campaign
    order: FactoryOrder
    fans: list[Fan]
    pledges: list[Pledge]  # A, B, C, D paid (3 units each); E lapsed (2 units)
    lapsed: Pledge
    extra: dict = field(default_factory=dict)


def build_order(owner, shop, product, variant, capture, *, n_paid=4, ship_days=10) -> Flow:
    """campaign -> pledges -> close -> balances paid (one fan does not pay) -> lapse -> factory order."""
    campaign = make_campaign(
        owner, product, ship_by=(timezone.now() + dt.timedelta(days=ship_days)).isoformat()
    )
    fans = [FanFactory(shop=shop) for _ in range(n_paid + 1)]
    ids = []
    with capture(execute=True):
        for i, fan in enumerate(fans):
            body, _created = pledge_place(
                user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=3 if i < n_paid else 2
            )
            ids.append(body["id"])
    expire(campaign)
    with capture(execute=True):
        assert campaign_close(campaign_id=campaign.pk) == "succeeded"
        for fan, pid in zip(fans[:n_paid], ids[:n_paid], strict=True):
            balance_pay(user=fan.user, pledge_id=pid, idempotency_key=f"pay-{pid}")
    # The balance deadline passes: the fan who did not pay lapses; the order is built from paid units.
    Campaign.objects.filter(pk=campaign.pk).update(balance_deadline=timezone.now() - dt.timedelta(seconds=1))
    with capture(execute=True):
        assert balance_lapse_run(campaign_id=campaign.pk)
    assert campaign_after_lapse(campaign_id=campaign.pk) == "ordered"
    campaign.refresh_from_db()
    pledges = [Pledge.objects.get(pk=pid) for pid in ids]
    assert [p.status for p in pledges] == ["paid"] * n_paid + ["lapsed"]
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    return Flow(campaign, order, fans, pledges[:n_paid], pledges[-1])


@pytest.fixture
def flow(owner, shop, product, django_capture_on_commit_callbacks) -> Flow:
    return build_order(owner, shop, product[0], product[1], django_capture_on_commit_callbacks)


def balanced(campaign: Campaign) -> bool:
    return statement(campaign_id=campaign.pk)["balanced"]


def cards(fan: Fan, card: str) -> list[dict]:
    return [
        m.payload
        for m in Message.objects.filter(conversation__fan=fan, kind=MessageKind.ORDER_CARD).order_by("seq")
        if (m.payload or {}).get("card") == card
    ]


def ship(client, order, pledges, tracking, carrier="顺丰", **extra):
    return client.post(
        f"/api/factory-orders/{order.pk}/shipments/",
        {"pledges": [p.pk for p in pledges], "carrier": carrier, "tracking_number": tracking, **extra},
        format="json",
    )


# --- after-sales ----------------------------------------------------------------------------------------


def delivered(flow, owner, api_for, pledge) -> Shipment:
    sid = ship(api_for(owner), flow.order, [pledge], f"D{pledge.pk}").json()["id"]
    api_for(owner).post(f"/api/shipments/{sid}/deliver/")
    return Shipment.objects.get(pk=sid)
