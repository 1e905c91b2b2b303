"""The fruit box through HTTP, the owner's side: the items and calendar, the delivery notes on the factory
order, the pages and the admin. The fan's changes: test_fruit_box_swaps.py and test_fruit_box_schedule.py;
cancel-with-an-offer: test_fruit_box_cancel.py."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from preorders.models import (
    BoxItem,
    BoxSwap,
    FactoryOrder,
)
from preorders.services import cycle_cut
from tests.factories import FanFactory, ShopMemberFactory, UserFactory
from tests.preorders.conftest import make_campaign
from tests.preorders.fruit_box_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.fruit_box_helpers import (
    client_for,
    first_cycle,
    names,
    pass_cutoff,
    subscribe,
    subscription,
)

pytestmark = pytest.mark.django_db


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


def test_admin_shows_the_box_inline_and_the_cancel_reasons(api_for, fan_user, box, pledge):
    api_for(fan_user).post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "price"}, format="json")
    admin = client_for(UserFactory(username="platform", is_staff=True, is_superuser=True))
    page = admin.get(f"/admin/preorders/campaign/{box.pk}/change/")
    assert page.status_code == 200
    assert 'name="box_items-TOTAL_FORMS" value="7"' in page.content.decode()
    listing = admin.get("/admin/preorders/retentionoffer/")
    assert listing.status_code == 200 and "换成小盒" in listing.content.decode()
