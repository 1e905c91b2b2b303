"""The fruit box through HTTP, the fan's box: what is in it, swaps, never-lists and preferences, the small
box, and who may see a box."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from preorders.box_selectors import box_calendar
from preorders.models import (
    BoxSwap,
    Pledge,
    RetentionOffer,
    SubscriptionPrefs,
)
from preorders.services import pledge_place
from preorders.services.fruit_box import box_cycle_plan
from preorders.services.fruit_box_items import box_item_create
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign
from tests.preorders.fruit_box_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.fruit_box_helpers import (
    client_for,
    first_cycle,
    names,
    state,
    subscription,
)

pytestmark = pytest.mark.django_db


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
