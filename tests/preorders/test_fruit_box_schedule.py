"""The fruit box through HTTP, a fan's changes to when and to whom: delaying and gifting the next box, the
weekly or biweekly rhythm at the cut-off, and changes refused once the cut-off passed or the cut committed."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from preorders.models import (
    CycleChange,
    CycleDelivery,
    SubscriptionCycle,
    SubscriptionPrefs,
    SubscriptionSkip,
)
from preorders.services import cycle_cut
from preorders.services.fruit_box import box_cycle_plan
from tests.factories import FanFactory
from tests.preorders.fruit_box_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.fruit_box_helpers import (
    first_cycle,
    pass_cutoff,
    state,
    subscribe,
    subscription,
)

pytestmark = pytest.mark.django_db


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
