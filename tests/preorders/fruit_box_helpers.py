"""The fruit box tests' shared setup: a weekly fruit box subscription with its items, a fan's pledge
on it, and small readers of the box's state (tests/preorders/test_fruit_box*.py)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from preorders.models import (
    BoxSwap,
    CycleChange,
    Pledge,
    SubscriptionCycle,
    SubscriptionPrefs,
    SubscriptionSkip,
)
from preorders.services import pledge_place
from preorders.services.fruit_box_items import box_item_create
from tests.preorders.conftest import make_campaign, shop_product

# What `import *` brings into a test module: its fixtures (pytest finds them by name).
__all__ = ["fruit", "box", "pledge"]


# name, unit price, ripen days, quantity, in the standard box
ITEMS = [
    ("苹果", "3.00", 0, 4, True),
    ("香蕉", "2.00", 2, 4, True),
    ("芒果", "8.00", 3, 2, True),
    ("猕猴桃", "4.00", 4, 3, True),
    ("梨", "3.00", 0, 1, False),
    ("榴莲", "8.00", 1, 1, False),
    ("橙子", "4.50", 0, 1, False),
]


def subscription(owner, product, **kw):
    fields = {
        "kind": "subscription",
        "cadence": "weekly",
        "cycles": None,
        "cutoff_hours": 48,
        "deadline": (timezone.now() + dt.timedelta(days=5)).isoformat(),
        "tiers": [],
        "cap": None,
        "per_fan_limit": None,
        "title": "每周鲜果订阅",
    }
    fields.update(kw)
    return make_campaign(owner, product, **fields)


@pytest.fixture
def fruit(shop, factory_product):
    return shop_product(shop, factory_product, price="99.99")


@pytest.fixture
def box(owner, fruit):
    campaign = subscription(owner, fruit[0])
    items = {}
    for name, price, ripen, qty, default in ITEMS:
        items[name] = box_item_create(
            user=owner,
            campaign_id=campaign.pk,
            name=name,
            unit_price=price,
            ripen_days=ripen,
            quantity=qty,
            is_default=default,
        )
    campaign.items = items
    return campaign


def subscribe(fan, campaign, variant, quantity=1) -> int:
    return pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=quantity)[0][
        "id"
    ]


@pytest.fixture
def pledge(fan, box, fruit):
    return subscribe(fan, box, fruit[1])


def names(body):
    return {line["name"]: line["quantity"] for line in body["calendar"]["contents"]}


def first_cycle(campaign) -> SubscriptionCycle:
    return SubscriptionCycle.objects.get(campaign=campaign, number=1)


def pass_cutoff(cycle) -> None:
    SubscriptionCycle.objects.filter(pk=cycle.pk).update(cutoff_at=timezone.now())


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def state(pledge_id):
    """Everything a fan's change may write, to prove a refused one wrote nothing."""
    return (
        list(SubscriptionPrefs.objects.filter(pledge_id=pledge_id).values()),
        list(BoxSwap.objects.filter(pledge_id=pledge_id).values("item_id", "option_id")),
        list(CycleChange.objects.filter(pledge_id=pledge_id).values()),
        list(SubscriptionSkip.objects.filter(pledge_id=pledge_id).values("cycle_id")),
        Pledge.objects.get(pk=pledge_id).status,
    )
