"""The fruit box through HTTP: the owner's items and calendar, a fan's changes before the cut-off, the
biweekly rhythm at the cut-off, cancel-with-an-offer, and the delivery notes on the factory order."""

import csv
import datetime as dt
import io
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from preorders.box_selectors import box_calendar
from preorders.models import (
    BoxItem,
    BoxSwap,
    CycleChange,
    CycleDelivery,
    FactoryOrder,
    Pledge,
    RetentionOffer,
    SubscriptionCycle,
    SubscriptionPrefs,
    SubscriptionSkip,
)
from preorders.services import cycle_cut, pledge_place
from preorders.services.fruit_box import box_cycle_plan
from preorders.services.fruit_box_items import box_item_create
from tests.factories import FanFactory, ShopMemberFactory, UserFactory
from tests.preorders.conftest import make_campaign, shop_product

pytestmark = pytest.mark.django_db

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


# --- the owner's items ------------------------------------------------------------------------------------


def test_owner_adds_edits_and_removes_items_and_the_calendar_follows(api_for, owner, fruit):
    campaign = subscription(owner, fruit[0])
    client = api_for(owner)
    url = f"/api/campaigns/{campaign.pk}/box-items/"
    mango = client.post(
        url,
        {"name": "芒果", "unit_price": "8", "ripen_days": 3, "quantity": 2, "is_default": True},
        format="json",
    )
    assert mango.status_code == 201, mango.json()
    assert mango.json() | {"id": 0} == {
        "id": 0,
        "campaign": campaign.pk,
        "name": "芒果",
        "unit_price": "8.00",
        "ripen_days": 3,
        "quantity": 2,
        "is_default": True,
        "position": 0,
    }
    kiwi = client.post(url, {"name": "猕猴桃", "unit_price": "4.00", "ripen_days": 4}, format="json").json()
    assert kiwi["position"] == 1 and kiwi["quantity"] == 1 and kiwi["is_default"] is True

    body = client.get(url).json()
    assert [i["name"] for i in body["items"]] == ["芒果", "猕猴桃"]
    assert body["box_value"] == "20.00" and body["unit_price"] == "99.99"
    # Nothing ripe until the mango on day 3: days 0-2 are gaps.
    assert body["calendar"]["gaps"] == [0, 1, 2]
    day3 = body["calendar"]["days"][3]
    assert day3["ready"] == [{"item": mango.json()["id"], "name": "芒果", "quantity": 2, "best": True}]
    assert [r["name"] for r in body["calendar"]["days"][6]["ready"]] == ["猕猴桃", "芒果"]
    first = first_cycle(campaign)
    assert body["calendar"]["cycle"] == 1
    assert body["calendar"]["delivery_date"] == timezone.localtime(first.delivery_at).date().isoformat()

    changed = client.patch(f"/api/box-items/{mango.json()['id']}/", {"ripen_days": 0}, format="json")
    assert changed.status_code == 200 and changed.json()["ripen_days"] == 0
    assert client.get(url).json()["calendar"]["gaps"] == []

    assert client.delete(f"/api/box-items/{kiwi['id']}/").status_code == 204
    assert list(BoxItem.objects.values_list("name", flat=True)) == ["芒果"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "", "unit_price": "3"}, "box_item_name_invalid"),
        ({"name": "x" * 61, "unit_price": "3"}, "box_item_name_invalid"),
        ({"name": "梨", "unit_price": "-1"}, "box_item_price_invalid"),
        ({"name": "梨", "unit_price": "1.234"}, "box_item_price_invalid"),
        ({"name": "梨", "unit_price": "abc"}, "box_item_price_invalid"),
        ({"name": "梨", "unit_price": True}, "box_item_price_invalid"),
        ({"name": "梨", "unit_price": "3", "ripen_days": 7}, "ripen_days_invalid"),
        ({"name": "梨", "unit_price": "3", "ripen_days": -1}, "ripen_days_invalid"),
        ({"name": "梨", "unit_price": "3", "quantity": 0}, "box_item_quantity_invalid"),
        ({"name": "梨", "unit_price": "3", "quantity": 1.5}, "box_item_quantity_invalid"),
        ({"name": "梨", "unit_price": "3", "is_default": "yes"}, "box_item_role_invalid"),
        ({"unit_price": "3"}, "invalid"),
    ],
)
def test_owner_item_bad_input_is_refused_and_nothing_stored(api_for, owner, box, body, code):
    before = list(BoxItem.objects.values())
    response = api_for(owner).post(f"/api/campaigns/{box.pk}/box-items/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code and response.json()["message"]
    assert list(BoxItem.objects.values()) == before


def test_owner_item_names_are_unique_in_a_box(api_for, owner, box):
    client = api_for(owner)
    again = client.post(
        f"/api/campaigns/{box.pk}/box-items/", {"name": "芒果", "unit_price": "1"}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "box_item_exists"
    renamed = client.patch(f"/api/box-items/{box.items['梨'].pk}/", {"name": "芒果"}, format="json")
    assert renamed.status_code == 409 and renamed.json()["code"] == "box_item_exists"
    assert BoxItem.objects.filter(name="芒果").count() == 1
    nothing = client.patch(f"/api/box-items/{box.items['梨'].pk}/", {}, format="json")
    assert nothing.status_code == 400


def test_box_items_are_for_the_shops_managers(api_for, owner, shop, box, fan_user, other_shop, product):
    assistant = ShopMemberFactory(shop=shop, role="assistant").user
    url = f"/api/campaigns/{box.pk}/box-items/"
    item_url = f"/api/box-items/{box.items['梨'].pk}/"
    new = {"name": "桃", "unit_price": "5"}
    assert api_for(assistant).get(url).status_code == 200
    assert api_for(assistant).post(url, new, format="json").status_code == 403
    assert api_for(assistant).patch(item_url, {"ripen_days": 2}, format="json").status_code == 403
    assert api_for(assistant).delete(item_url).status_code == 403
    for outsider in (fan_user, other_shop.owner, UserFactory()):
        client = api_for(outsider)
        assert client.get(url).status_code == 404
        assert client.post(url, new, format="json").status_code == 404
        assert client.patch(item_url, {"ripen_days": 2}, format="json").status_code == 404
        assert client.delete(item_url).status_code == 404
    assert not BoxItem.objects.filter(name="桃").exists()
    assert BoxItem.objects.get(pk=box.items["梨"].pk).ripen_days == 0
    group = make_campaign(owner, product[0])
    refused = api_for(owner).post(f"/api/campaigns/{group.pk}/box-items/", new, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "not_subscription"


def test_repricing_an_option_drops_the_swaps_it_no_longer_matches(api_for, owner, fan_user, box, pledge):
    api_for(fan_user).post(
        f"/api/pledges/{pledge}/box/swap/",
        {"item": box.items["苹果"].pk, "option": box.items["梨"].pk},
        format="json",
    )
    assert BoxSwap.objects.count() == 1
    api_for(owner).patch(f"/api/box-items/{box.items['梨'].pk}/", {"unit_price": "3.50"}, format="json")
    assert BoxSwap.objects.count() == 0
    assert "苹果" in names(api_for(fan_user).get(f"/api/pledges/{pledge}/box/").json())


# --- the fan's box --------------------------------------------------------------------------------------


def test_fan_sees_their_next_box_and_its_calendar(api_for, fan_user, box, pledge):
    body = api_for(fan_user).get(f"/api/pledges/{pledge}/box/").json()
    assert body["frequency"] == "weekly" and body["box_size"] == "standard" and body["never"] == []
    assert body["receives"] is True and body["why_not"] is None and body["cycle"]["number"] == 1
    assert body["cycle"]["changeable"] is True and body["can_change_frequency"] is True
    assert body["unit_price"] == "99.99" and body["boxes"] == 1
    assert names(body) == {"苹果": 4, "香蕉": 4, "芒果": 2, "猕猴桃": 3}
    assert body["calendar"]["gaps"] == []
    assert [r["name"] for r in body["calendar"]["days"][0]["ready"]] == ["苹果"]
    best = {d["day"]: [r["name"] for r in d["ready"] if r["best"]] for d in body["calendar"]["days"]}
    assert best == {0: ["苹果"], 1: [], 2: ["香蕉"], 3: ["芒果"], 4: ["猕猴桃"], 5: [], 6: []}
    # Equal-price options to swap in: pear for apple, durian for mango; none for the banana or kiwi.
    items = box.items
    assert body["swap_choices"] == {
        str(items["苹果"].pk): [items["梨"].pk],
        str(items["香蕉"].pk): [],
        str(items["芒果"].pk): [items["榴莲"].pk],
        str(items["猕猴桃"].pk): [],
    }


def test_swap_to_an_equal_price_option_and_back(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    apple, pear = box.items["苹果"], box.items["梨"]
    swapped = client.post(
        f"/api/pledges/{pledge}/box/swap/", {"item": apple.pk, "option": pear.pk}, format="json"
    )
    assert swapped.status_code == 200, swapped.json()
    body = swapped.json()
    assert names(body) == {"梨": 4, "香蕉": 4, "芒果": 2, "猕猴桃": 3}
    line = next(x for x in body["calendar"]["contents"] if x["name"] == "梨")
    assert line["replaces"] == apple.pk and line["unit_price"] == "3.00"
    assert body["swaps"] == [{"item": apple.pk, "option": pear.pk}]
    back = client.post(f"/api/pledges/{pledge}/box/swap/", {"item": apple.pk, "option": None}, format="json")
    assert names(back.json()) == {"苹果": 4, "香蕉": 4, "芒果": 2, "猕猴桃": 3}
    assert BoxSwap.objects.count() == 0


@pytest.mark.parametrize(
    ("item", "option", "status", "code"),
    [
        ("苹果", "橙子", 422, "swap_price_mismatch"),  # 3.00 against 4.50
        ("猕猴桃", "橙子", 422, "swap_price_mismatch"),  # 4.00 against 4.50
        ("苹果", "香蕉", 400, "box_option_invalid"),  # a standard item is not an option
        ("梨", "苹果", 400, "box_item_invalid"),  # an option is not in the box
        ("苹果", "other", 400, "box_option_invalid"),  # an option of another campaign
        ("苹果", 999999, 400, "box_option_invalid"),
        ("苹果", "x", 400, "box_option_invalid"),
        (None, "梨", 400, "invalid"),  # the shape check: an item is required
    ],
)
def test_swap_rules(api_for, owner, fan_user, box, pledge, fruit, item, option, status, code):
    other = subscription(owner, fruit[0], title="另一个订阅")
    stranger_pear = box_item_create(
        user=owner, campaign_id=other.pk, name="梨", unit_price="3.00", is_default=False
    )
    ids = {**{k: v.pk for k, v in box.items.items()}, "other": stranger_pear.pk}
    before = state(pledge)
    response = api_for(fan_user).post(
        f"/api/pledges/{pledge}/box/swap/",
        {"item": ids.get(item, item), "option": ids.get(option, option)},
        format="json",
    )
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code and response.json()["message"]
    assert state(pledge) == before


def test_never_list_swaps_in_an_equal_price_option_or_leaves_the_item_out(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    items = box.items
    body = client.put(f"/api/pledges/{pledge}/box/", {"never": [items["芒果"].pk]}, format="json").json()
    assert body["never"] == [items["芒果"].pk]
    assert names(body) == {
        "苹果": 4,
        "香蕉": 4,
        "榴莲": 2,
        "猕猴桃": 3,
    }  # durian, same price, in the mango's place
    # No durian either: the mango slot has no other equal-price option, so it leaves the box.
    body = client.put(
        f"/api/pledges/{pledge}/box/", {"never": [items["芒果"].pk, items["榴莲"].pk]}, format="json"
    ).json()
    assert names(body) == {"苹果": 4, "香蕉": 4, "猕猴桃": 3}
    assert body["swap_choices"][str(items["芒果"].pk)] == []
    # A swap to a never-listed option is refused, and never-listing a swapped-in option drops that swap.
    refused = client.post(
        f"/api/pledges/{pledge}/box/swap/",
        {"item": items["芒果"].pk, "option": items["榴莲"].pk},
        format="json",
    )
    assert refused.status_code == 422 and refused.json()["code"] == "swap_option_never"
    client.post(
        f"/api/pledges/{pledge}/box/swap/",
        {"item": items["苹果"].pk, "option": items["梨"].pk},
        format="json",
    )
    body = client.put(f"/api/pledges/{pledge}/box/", {"never": [items["梨"].pk]}, format="json").json()
    assert body["swaps"] == [] and names(body)["苹果"] == 4


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"never": [999999]}, "never_invalid"),
        ({"never": "durian"}, "never_invalid"),
        ({"never": ["x"]}, "never_invalid"),
        ({"box_size": "huge"}, "box_size_invalid"),
        ({}, "invalid"),
    ],
)
def test_box_preferences_bad_input(api_for, fan_user, box, pledge, body, code):
    client = api_for(fan_user)
    client.put(f"/api/pledges/{pledge}/box/", {"never": [box.items["榴莲"].pk]}, format="json")
    before = state(pledge)
    response = client.put(f"/api/pledges/{pledge}/box/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code
    assert state(pledge) == before


def test_small_box_halves_quantities_and_price(api_for, fan_user, box, pledge):
    body = api_for(fan_user).put(f"/api/pledges/{pledge}/box/", {"box_size": "small"}, format="json").json()
    assert body["box_size"] == "small"
    # Halved, rounding up so nothing drops to nothing; 99.99 / 2 = 49.995 rounds half up to 50.00.
    assert names(body) == {"苹果": 2, "香蕉": 2, "芒果": 1, "猕猴桃": 2}
    assert body["unit_price"] == "50.00"
    plan = box_cycle_plan(first_cycle(box))
    assert plan["small"] == {pledge}
    assert sorted(plan["contents"][pledge]) == sorted(
        [
            ("苹果", 2, Decimal("3.00")),
            ("香蕉", 2, Decimal("2.00")),
            ("芒果", 1, Decimal("8.00")),
            ("猕猴桃", 2, Decimal("4.00")),
        ]
    )


def test_delay_the_next_box(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    first = first_cycle(box)
    usual = timezone.localtime(first.delivery_at).date()
    body = client.post(f"/api/pledges/{pledge}/box/delay/", {"days": 2}, format="json").json()
    assert body["delay"] == {"days": 2}
    assert body["calendar"]["delivery_date"] == (usual + dt.timedelta(days=2)).isoformat()
    # Asking again changes the one delay of this box.
    body = client.post(f"/api/pledges/{pledge}/box/delay/", {"days": 3}, format="json").json()
    assert body["delay"] == {"days": 3}
    assert CycleChange.objects.get(pledge_id=pledge, cycle=first, kind="delay").delay_days == 3
    body = client.delete(f"/api/pledges/{pledge}/box/delay/").json()
    assert body["delay"] is None and body["calendar"]["delivery_date"] == usual.isoformat()
    assert not CycleChange.objects.exists()


@pytest.mark.parametrize("days", [0, 7, -1, "x", 2.5, None, True])
def test_delay_bad_days(api_for, fan_user, box, pledge, days):
    before = state(pledge)
    response = api_for(fan_user).post(f"/api/pledges/{pledge}/box/delay/", {"days": days}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in ("delay_days_invalid", "invalid")
    assert state(pledge) == before


def test_delay_cannot_pass_the_next_delivery(api_for, fan_user, box, pledge):
    first = first_cycle(box)
    # This box was moved two days later: six more days would land on the next box's day.
    SubscriptionCycle.objects.filter(pk=first.pk).update(
        delivery_at=first.delivery_at + dt.timedelta(days=2), cutoff_at=first.cutoff_at + dt.timedelta(days=2)
    )
    response = api_for(fan_user).post(f"/api/pledges/{pledge}/box/delay/", {"days": 5}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "delay_too_long"
    assert (
        api_for(fan_user).post(f"/api/pledges/{pledge}/box/delay/", {"days": 4}, format="json").status_code
        == 200
    )


def test_gift_the_next_box(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    gift = {
        "name": "张阿姨",
        "phone": "138 0000 0000",
        "address": "上海市徐汇区漕溪北路 1 号",
        "message": "生日快乐",
    }
    body = client.post(f"/api/pledges/{pledge}/box/gift/", gift, format="json").json()
    assert body["gift"] == gift
    body = client.post(
        f"/api/pledges/{pledge}/box/gift/", {**gift, "address": "上海市静安区 2 号"}, format="json"
    ).json()
    assert body["gift"]["address"] == "上海市静安区 2 号"
    assert CycleChange.objects.filter(pledge_id=pledge, kind="gift").count() == 1
    assert client.delete(f"/api/pledges/{pledge}/box/gift/").json()["gift"] is None
    assert not CycleChange.objects.exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"address": ""}, "gift_address_required"),
        ({"address": "   "}, "gift_address_required"),
        ({"address": "x" * 201}, "gift_address_required"),
        ({"name": ""}, "gift_name_required"),
        ({"phone": "call me"}, "gift_phone_invalid"),
        ({"phone": ""}, "gift_phone_invalid"),
        ({"address": "有\x00空字符"}, "gift_address_required"),
        ({"address": 12}, "gift_address_required"),
        ({"message": "x" * 201}, "gift_message_invalid"),
    ],
)
def test_gift_bad_input(api_for, fan_user, box, pledge, change, code):
    gift = {"name": "张阿姨", "phone": "13800000000", "address": "上海市徐汇区", **change}
    response = api_for(fan_user).post(f"/api/pledges/{pledge}/box/gift/", gift, format="json")
    assert response.status_code == 400 and response.json()["code"] == code
    assert not CycleChange.objects.exists()


def test_delay_and_gift_need_a_box_coming(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    gift = {"name": "张阿姨", "phone": "13800000000", "address": "上海市徐汇区"}
    assert client.post(f"/api/pledges/{pledge}/skip/").status_code == 200
    for url, body in (
        (f"/api/pledges/{pledge}/box/delay/", {"days": 1}),
        (f"/api/pledges/{pledge}/box/gift/", gift),
    ):
        response = client.post(url, body, format="json")
        assert response.status_code == 409 and response.json()["code"] == "no_box_this_cycle"
    assert client.get(f"/api/pledges/{pledge}/box/").json()["why_not"] == "skipped"
    SubscriptionSkip.objects.all().delete()
    assert client.post(f"/api/pledges/{pledge}/pause/").status_code == 200
    response = client.post(f"/api/pledges/{pledge}/box/gift/", gift, format="json")
    assert response.status_code == 409 and response.json()["code"] == "pledge_not_active"
    assert not CycleChange.objects.exists()


def test_frequency_weekly_and_biweekly(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    body = client.post(
        f"/api/pledges/{pledge}/box/frequency/", {"frequency": "biweekly"}, format="json"
    ).json()
    assert body["frequency"] == "biweekly" and body["frequency_from"] == 1 and body["receives"] is True
    # Asking again keeps the rhythm; weekly again forgets it.
    assert (
        client.post(f"/api/pledges/{pledge}/box/frequency/", {"frequency": "biweekly"}, format="json").json()[
            "frequency_from"
        ]
        == 1
    )
    body = client.post(f"/api/pledges/{pledge}/box/frequency/", {"frequency": "weekly"}, format="json").json()
    assert body["frequency"] == "weekly" and body["frequency_from"] is None
    for bad in ("monthly", "", None, 2):
        response = client.post(f"/api/pledges/{pledge}/box/frequency/", {"frequency": bad}, format="json")
        assert response.status_code == 400
    assert SubscriptionPrefs.objects.get(pledge_id=pledge).frequency == "weekly"


def test_frequency_change_only_on_weekly_campaigns(api_for, owner, fan, fruit):
    monthly = subscription(owner, fruit[0], cadence="monthly")
    pledge = subscribe(fan, monthly, fruit[1])
    response = api_for(fan.user).post(
        f"/api/pledges/{pledge}/box/frequency/", {"frequency": "biweekly"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "frequency_unavailable"
    assert api_for(fan.user).get(f"/api/pledges/{pledge}/box/").json()["can_change_frequency"] is False
    assert not SubscriptionPrefs.objects.filter(pledge_id=pledge, frequency="biweekly").exists()


def test_biweekly_fans_are_left_out_of_their_off_week_cut(
    api_for, shop, box, fruit, django_capture_on_commit_callbacks
):
    weekly_fan, biweekly_fan = FanFactory(shop=shop), FanFactory(shop=shop)
    weekly = subscribe(weekly_fan, box, fruit[1])
    biweekly = subscribe(biweekly_fan, box, fruit[1], quantity=2)
    api_for(biweekly_fan.user).post(
        f"/api/pledges/{biweekly}/box/frequency/", {"frequency": "biweekly"}, format="json"
    )
    delivered = []
    for number in (1, 2, 3):
        cycle = SubscriptionCycle.objects.get(campaign=box, number=number)
        plan = box_cycle_plan(cycle)
        assert plan["excluded"] == ({biweekly} if number == 2 else set())
        if number == 2:
            off = api_for(biweekly_fan.user).get(f"/api/pledges/{biweekly}/box/").json()
            assert off["receives"] is False and off["why_not"] == "off_week"
        pass_cutoff(cycle)
        with django_capture_on_commit_callbacks(execute=True):  # the boxes are charged after the commit
            cycle_cut(cycle_id=cycle.pk)
        cycle.refresh_from_db()
        delivered.append(
            (
                cycle.quantity,
                set(CycleDelivery.objects.filter(cycle=cycle).values_list("pledge_id", flat=True)),
            )
        )
    assert delivered == [(3, {weekly, biweekly}), (1, {weekly}), (3, {weekly, biweekly})]


def test_changes_refused_past_the_cutoff(api_for, fan_user, box, pledge):
    pass_cutoff(first_cycle(box))
    client = api_for(fan_user)
    items = box.items
    before = state(pledge)
    calls = [
        ("put", "box/", {"never": [items["榴莲"].pk]}),
        ("put", "box/", {"box_size": "small"}),
        ("post", "box/swap/", {"item": items["苹果"].pk, "option": items["梨"].pk}),
        ("post", "box/delay/", {"days": 1}),
        ("delete", "box/delay/", None),
        ("post", "box/gift/", {"name": "张阿姨", "phone": "13800000000", "address": "上海市"}),
        ("delete", "box/gift/", None),
        ("post", "box/frequency/", {"frequency": "biweekly"}),
    ]
    for method, path, body in calls:
        response = getattr(client, method)(f"/api/pledges/{pledge}/{path}", body, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "past_cutoff"), path
    assert state(pledge) == before
    body = client.get(f"/api/pledges/{pledge}/box/").json()
    assert body["cycle"]["changeable"] is False
    # Past the cut-off no offer can be taken either: the fan is told so and may still cancel.
    assert (
        client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "away"}, format="json").json()["offer"]
        is None
    )


def test_another_fans_box_is_not_found(api_for, owner, shop, box, pledge):
    intruder = FanFactory(shop=shop).user
    items = box.items
    for user in (intruder, owner):
        client = api_for(user)
        calls = [
            ("get", "box/", None),
            ("put", "box/", {"box_size": "small"}),
            ("post", "box/swap/", {"item": items["苹果"].pk, "option": items["梨"].pk}),
            ("post", "box/delay/", {"days": 1}),
            ("delete", "box/delay/", None),
            ("post", "box/gift/", {"name": "x", "phone": "13800000000", "address": "y"}),
            ("delete", "box/gift/", None),
            ("post", "box/frequency/", {"frequency": "biweekly"}),
            ("post", "cancel-offer/", {"reason": "price"}),
            ("post", "cancel-offer/accept/", None),
        ]
        for method, path, body in calls:
            response = getattr(client, method)(f"/api/pledges/{pledge}/{path}", body, format="json")
            assert response.status_code == 404, (user, path)
    assert not SubscriptionPrefs.objects.exists() and not RetentionOffer.objects.exists()


def test_a_group_pledge_has_no_box(api_for, owner, fan_user, product):
    group = make_campaign(owner, product[0])
    pledge = pledge_place(user=fan_user, campaign_id=group.pk, variant_id=product[1].pk, quantity=1)[0]["id"]
    response = api_for(fan_user).get(f"/api/pledges/{pledge}/box/")
    assert response.status_code == 409 and response.json()["code"] == "not_subscription"
    assert client_for(fan_user).get(f"/me/box/{pledge}/").status_code == 404


def test_box_read_has_a_bounded_number_of_queries(
    api_for, owner, fan_user, box, pledge, django_assert_max_num_queries
):
    for n in range(20):
        box_item_create(
            user=owner, campaign_id=box.pk, name=f"果{n}", unit_price="3.00", is_default=n % 2 == 0
        )
    client = api_for(fan_user)
    with django_assert_max_num_queries(10):
        assert client.get(f"/api/pledges/{pledge}/box/").status_code == 200
    owner_client = api_for(owner)
    with django_assert_max_num_queries(8):
        assert owner_client.get(f"/api/campaigns/{box.pk}/box-items/").status_code == 200


# --- cancelling with a reason -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "offer"),
    [("too_much", "biweekly"), ("away", "skip"), ("price", "small_box"), ("other", None)],
)
def test_cancel_reason_meets_its_offer(api_for, fan_user, box, pledge, reason, offer):
    response = api_for(fan_user).post(
        f"/api/pledges/{pledge}/cancel-offer/", {"reason": reason, "note": "说明"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["offer"] == offer and body["message"]
    if offer == "small_box":
        assert "50.00" in body["message"] and "99.99" in body["message"]
    record = RetentionOffer.objects.get()
    assert (record.reason, record.offer, record.outcome, record.note) == (
        reason,
        offer or "",
        "shown",
        "说明",
    )
    assert Pledge.objects.get(pk=pledge).status == "active"


@pytest.mark.parametrize(
    ("reason", "check"),
    [
        ("too_much", lambda p: SubscriptionPrefs.objects.get(pledge_id=p).frequency == "biweekly"),
        ("away", lambda p: SubscriptionSkip.objects.filter(pledge_id=p).count() == 1),
        ("price", lambda p: SubscriptionPrefs.objects.get(pledge_id=p).box_size == "small"),
    ],
)
def test_accepting_the_offer_applies_it_and_keeps_the_subscription(
    api_for, fan_user, box, pledge, reason, check
):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": reason}, format="json")
    response = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert response.status_code == 200, response.json()
    assert response.json()["message"] and response.json()["box"]["pledge"] == pledge
    assert check(pledge)
    record = RetentionOffer.objects.get()
    assert record.outcome == "accepted" and record.decided_at is not None
    assert Pledge.objects.get(pk=pledge).status == "active"
    again = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert again.status_code == 409 and again.json()["code"] == "no_offer"


def test_an_offer_already_taken_is_not_offered_again(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/box/frequency/", {"frequency": "biweekly"}, format="json")
    client.put(f"/api/pledges/{pledge}/box/", {"box_size": "small"}, format="json")
    client.post(f"/api/pledges/{pledge}/skip/")
    for reason in ("too_much", "price", "away"):
        body = client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": reason}, format="json").json()
        assert body["offer"] is None and body["message"]
    response = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert response.status_code == 409 and response.json()["code"] == "no_offer"


def test_declining_is_the_old_cancel_and_records_the_decline(api_for, fan_user, box, pledge, provider):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "away", "note": "出国"}, format="json")
    cancelled = client.post(
        f"/api/pledges/{pledge}/cancel/", {"reason": "I'm going away: 出国"}, format="json"
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "I'm going away: 出国"
    record = RetentionOffer.objects.get()
    assert record.outcome == "declined" and record.decided_at is not None
    assert not SubscriptionSkip.objects.exists()
    body = client.get(f"/api/pledges/{pledge}/box/").json()
    assert body["status"] == "cancelled" and body["receives"] is False
    gone = client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "price"}, format="json")
    assert gone.status_code == 409 and gone.json()["code"] == "pledge_not_active"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"reason": "bored"}, "reason_invalid"),
        ({"reason": ""}, "reason_invalid"),
        ({}, "invalid"),
        ({"reason": "price", "note": "x" * 201}, "note_invalid"),
    ],
)
def test_cancel_offer_bad_input(api_for, fan_user, box, pledge, body, code):
    response = api_for(fan_user).post(f"/api/pledges/{pledge}/cancel-offer/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code
    assert not RetentionOffer.objects.exists()


def test_accepting_fails_whole_when_the_offer_no_longer_applies(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "away"}, format="json")
    client.post(f"/api/pledges/{pledge}/pause/")
    response = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert response.status_code == 409 and response.json()["code"] == "pledge_not_active"
    assert RetentionOffer.objects.get().outcome == "shown" and not SubscriptionSkip.objects.exists()


# --- the cut-off's delivery notes and the pages ---------------------------------------------------------------


def test_factory_order_csv_carries_gifts_and_delays(
    api_for, shop, box, fruit, pledge, fan_user, django_capture_on_commit_callbacks
):
    other = FanFactory(shop=shop)
    other_pledge = subscribe(other, box, fruit[1], quantity=2)
    gift = {
        "name": "张阿姨",
        "phone": "13800000000",
        "address": "上海市徐汇区漕溪北路 1 号",
        "message": "生日快乐",
    }
    api_for(fan_user).post(f"/api/pledges/{pledge}/box/gift/", gift, format="json")
    api_for(other.user).post(f"/api/pledges/{other_pledge}/box/delay/", {"days": 2}, format="json")
    first = first_cycle(box)
    pass_cutoff(first)
    with django_capture_on_commit_callbacks(execute=True):  # the boxes are charged, then ordered
        cycle_cut(cycle_id=first.pk)
    order = FactoryOrder.objects.get(cycle=first)
    admin = UserFactory(username="platform", is_staff=True, is_superuser=True)
    response = client_for(admin).get(f"/factory-orders/{order.pk}/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][7] == "3"  # the order line: three boxes
    notes = rows[
        rows.index(
            [
                "delivery",
                "pledge",
                "boxes",
                "delay_days",
                "deliver_on",
                "gift_name",
                "gift_phone",
                "gift_address",
                "gift_message",
            ]
        )
        + 1 :
    ]
    usual = timezone.localtime(first.delivery_at).date()
    assert notes == [
        [
            "delivery",
            str(pledge),
            "1",
            "0",
            usual.isoformat(),
            "张阿姨",
            "13800000000",
            "上海市徐汇区漕溪北路 1 号",
            "生日快乐",
        ],
        ["delivery", str(other_pledge), "2", "2", (usual + dt.timedelta(days=2)).isoformat(), "", "", "", ""],
    ]


def test_box_pages_open_for_their_people_only(owner, shop, fan_user, box, pledge, other_shop):
    assistant = ShopMemberFactory(shop=shop, role="assistant").user
    page = client_for(owner).get(f"/campaigns/{box.pk}/box/")
    assert page.status_code == 200 and "box-calendar" in page.content.decode()
    assert client_for(assistant).get(f"/campaigns/{box.pk}/box/").status_code == 200
    for outsider in (fan_user, other_shop.owner):
        assert client_for(outsider).get(f"/campaigns/{box.pk}/box/").status_code == 404
    assert client_for(fan_user).get(f"/me/box/{pledge}/").status_code == 200
    for outsider in (owner, FanFactory(shop=shop).user):
        assert client_for(outsider).get(f"/me/box/{pledge}/").status_code == 404
    assert f"/me/box/{pledge}/" in client_for(fan_user).get("/me/pledges/").content.decode()
    assert f"/campaigns/{box.pk}/box/" in client_for(owner).get(f"/campaigns/{box.pk}/").content.decode()


def test_box_calendar_of_a_fan_follows_their_swaps_and_delay(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    items = box.items
    client.post(
        f"/api/pledges/{pledge}/box/swap/",
        {"item": items["芒果"].pk, "option": items["榴莲"].pk},
        format="json",
    )
    client.post(f"/api/pledges/{pledge}/box/delay/", {"days": 2}, format="json")
    usual = timezone.localtime(first_cycle(box).delivery_at).date()
    mine = box_calendar(box, pledge=Pledge.objects.get(pk=pledge))
    assert mine["delivery_date"] == (usual + dt.timedelta(days=2)).isoformat()
    assert [r["name"] for r in mine["days"][1]["ready"] if r["best"]] == ["榴莲"]
    assert "芒果" not in {r["name"] for d in mine["days"] for r in d["ready"]}
    standard = box_calendar(box, cycle=first_cycle(box))
    assert standard["delivery_date"] == usual.isoformat()
    assert [r["name"] for r in standard["days"][3]["ready"] if r["best"]] == ["芒果"]


@pytest.mark.django_db(transaction=True)
def test_a_change_waiting_on_the_cut_is_refused_once_the_cut_commits(box, pledge, fan_user):
    """A fan's change takes the lock cycle_cut takes: one that queues behind a running cut sees it cut."""
    from core.errors import Conflict
    from preorders.services.fruit_box import box_delay

    first = first_cycle(box)
    outcome: dict[str, str] = {}

    def delay() -> None:
        try:
            box_delay(user=fan_user, pledge_id=pledge, days=2)
            outcome["code"] = "ok"
        except Conflict as exc:
            outcome["code"] = exc.code
        finally:
            connection.close()

    with transaction.atomic():
        SubscriptionCycle.objects.select_for_update().get(pk=first.pk)  # as cycle_cut does
        worker = threading.Thread(target=delay)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), "the change should wait for the cut"
        SubscriptionCycle.objects.filter(pk=first.pk).update(status="cut")
    worker.join(10)
    assert outcome == {"code": "past_cutoff"}
    assert not CycleChange.objects.exists()


def test_admin_shows_the_box_inline_and_the_cancel_reasons(api_for, fan_user, box, pledge):
    api_for(fan_user).post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "price"}, format="json")
    admin = client_for(UserFactory(username="platform", is_staff=True, is_superuser=True))
    page = admin.get(f"/admin/preorders/campaign/{box.pk}/change/")
    assert page.status_code == 200
    assert 'name="box_items-TOTAL_FORMS" value="7"' in page.content.decode()
    listing = admin.get("/admin/preorders/retentionoffer/")
    assert listing.status_code == 200 and "换成小盒" in listing.content.decode()
