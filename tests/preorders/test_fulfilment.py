"""Per-fan fulfilment through HTTP with the real app configuration: a campaign closes, fans pay their
balances (one lapses), the factory order is built from paid units, its parcels are recorded (by hand, by
CSV or on the factory's board), delivered and confirmed. After-sales: test_fulfilment_after_sales.py;
慢就赔: test_fulfilment_late.py. review_helpers.py and the browser tests import build_order from this module
(it lives in fulfilment_helpers.py)."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fans.chat.models import Message, MessageKind
from preorders.api_factory import board_token
from preorders.models import (
    Pledge,
    Shipment,
    ShipmentItem,
)
from shops.models import Factory, FactoryProduct, FactoryVariant, ShopRole
from tests.factories import ShopMemberFactory, UserFactory
from tests.preorders.conftest import shop_product
from tests.preorders.fulfilment_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.fulfilment_helpers import balanced, build_order, cards, ship

pytestmark = pytest.mark.django_db


# --- the whole path -------------------------------------------------------------------------------------


def test_order_shipped_delivered_and_confirmed_with_cards(
    flow, owner, api_for, django_capture_on_commit_callbacks
):
    a, b = flow.pledges[0], flow.pledges[1]
    # The owner finds the order their campaign feeds, with its paid units.
    listed = api_for(owner).get(f"/api/factory-orders/?campaign={flow.campaign.pk}")
    assert listed.status_code == 200, listed.json()
    assert [o["id"] for o in listed.json()] == [flow.order.pk]
    assert listed.json()[0]["sources"] == [{"campaign": flow.campaign.pk, "quantity": 12}]

    with django_capture_on_commit_callbacks(execute=True):
        created = ship(api_for(owner), flow.order, [a], "SF1001", shipped_at=timezone.now().isoformat())
    assert created.status_code == 201, created.json()
    body = created.json()
    shipment = Shipment.objects.get(pk=body["id"])
    assert body["status"] == "shipped" and body["pledges"] == [a.pk] and body["tracking_number"] == "SF1001"
    assert shipment.fan_id == a.fan_id and shipment.recorded_by == owner
    assert list(ShipmentItem.objects.values_list("pledge_id", "quantity")) == [(a.pk, 3)]
    (card,) = cards(a.fan, "shipment")
    assert card["carrier"] == "顺丰" and card["tracking_number"] == "SF1001"
    assert card["url"] == f"/me/orders/#pledge-{a.pk}" and card["title"] == flow.campaign.title
    assert cards(b.fan, "shipment") == []

    # Delivered (twice: once only), then the fan confirms receipt.
    with django_capture_on_commit_callbacks(execute=True):
        delivered = api_for(owner).post(f"/api/shipments/{shipment.pk}/deliver/")
        again = api_for(owner).post(f"/api/shipments/{shipment.pk}/deliver/")
    assert delivered.status_code == 200 and delivered.json()["status"] == "delivered"
    assert again.status_code == 200 and again.json()["delivered_at"] == delivered.json()["delivered_at"]
    assert len(cards(a.fan, "shipment_delivered")) == 1
    assert api_for(b.fan.user).post(f"/api/shipments/{shipment.pk}/confirm/").status_code == 404
    confirmed = api_for(a.fan.user).post(f"/api/shipments/{shipment.pk}/confirm/")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_by"] == "fan"
    shipment.refresh_from_db()
    assert shipment.confirmed_at is not None
    # The fan sees their parcel on their pledge.
    mine = api_for(a.fan.user).get(f"/api/pledges/{a.pk}/after-sales/").json()
    assert [s["tracking_number"] for s in mine["shipments"]] == ["SF1001"]
    assert balanced(flow.campaign)


def test_shipment_card_text_is_translated(flow, owner, api_for, django_capture_on_commit_callbacks):
    a = flow.pledges[0]
    with django_capture_on_commit_callbacks(execute=True):
        ship(api_for(owner), flow.order, [a], "SF7")
    text = Message.objects.filter(conversation__fan=a.fan, kind=MessageKind.ORDER_CARD).last().text
    with translation.override(settings.LANGUAGE_CODE):
        expected = _("“%(title)s” has shipped: %(carrier)s %(tracking)s.") % {
            "title": flow.campaign.title,
            "carrier": "顺丰",
            "tracking": "SF7",
        }
    assert text == expected and "顺丰 SF7" in text


def test_owner_and_admin_list_factory_orders(flow, owner, api_for, other_shop):
    admin = UserFactory(username="platform", is_staff=True)
    everything = api_for(admin).get("/api/factory-orders/")
    assert everything.status_code == 200 and [o["id"] for o in everything.json()] == [flow.order.pk]
    assert everything.json()[0]["sources"][0]["quantity"] == 12
    assert (
        api_for(admin).get(f"/api/factory-orders/?campaign={flow.campaign.pk}").json()[0]["id"]
        == flow.order.pk
    )
    assert api_for(owner).get("/api/factory-orders/").status_code == 403
    assert (
        api_for(other_shop.owner).get(f"/api/factory-orders/?campaign={flow.campaign.pk}").status_code == 404
    )
    assert (
        api_for(flow.fans[0].user).get(f"/api/factory-orders/?campaign={flow.campaign.pk}").status_code == 404
    )


def test_bad_shipments_are_refused_with_codes_and_write_nothing(
    flow, owner, shop, api_for, django_capture_on_commit_callbacks
):
    a, b = flow.pledges[0], flow.pledges[1]
    # Another factory order, of another factory product.
    factory = Factory.objects.create(name="第二工厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="围巾", moq=1, lead_time_days=5, unit_cost=Decimal(50)
    )
    FactoryVariant.objects.create(factory_product=fp, name="红", sku="F-SCARF-R", moq=1)
    FactoryVariant.objects.create(factory_product=fp, name="蓝", sku="F-SCARF-B", moq=1)
    scarf, v1, _v2 = shop_product(shop, fp)
    other = build_order(owner, shop, scarf, v1, django_capture_on_commit_callbacks, n_paid=4)
    assert other.order.pk != flow.order.pk

    client = api_for(owner)
    assert ship(client, flow.order, [a], "SF1").status_code == 201
    before = (Shipment.objects.count(), ShipmentItem.objects.count())

    def refused(pledges, tracking, carrier="顺丰", status=None, code=None):
        response = ship(client, flow.order, pledges, tracking, carrier=carrier)
        assert response.status_code == status, response.json()
        assert response.json()["code"] == code
        assert (Shipment.objects.count(), ShipmentItem.objects.count()) == before

    refused([other.pledges[0]], "SF2", status=422, code="pledge_not_in_order")
    refused([b, other.pledges[0]], "SF2", status=422, code="pledge_not_in_order")
    refused([Pledge(pk=999999)], "SF2", status=422, code="pledge_not_in_order")
    refused([flow.lapsed], "SF2", status=409, code="pledge_not_paid")
    refused([a], "SF3", status=409, code="already_shipped")
    refused([b], "SF1", status=409, code="tracking_number_reused")  # A's number for B's parcel
    refused([b, flow.pledges[2]], "SF4", status=422, code="several_fans")
    refused([b], "SF5", carrier="", status=400, code="carrier_required")
    refused([b], "  ", status=400, code="tracking_number_required")
    bad_shape = client.post(
        f"/api/factory-orders/{flow.order.pk}/shipments/",
        {"pledges": "x", "carrier": "顺丰", "tracking_number": "SF9"},
        format="json",
    )
    assert bad_shape.status_code == 400 and bad_shape.json()["code"] == "pledges_invalid"
    # The same fan's second parcel, under its own number, is fine; so is B's parcel with a fresh number.
    second_fan_a = Pledge.objects.create(
        campaign=flow.campaign,
        fan=a.fan,
        user=a.user,
        variant=a.variant,
        variant_name=a.variant_name,
        sku=a.sku,
        quantity=1,
        unit_price=a.unit_price,
        deposit_amount=Decimal(0),
        status="paid",
        final_unit_price=a.final_unit_price,
        balance_due=Decimal(0),
    )
    assert ship(client, flow.order, [second_fan_a], "SF1").status_code == 201  # A's own number again
    assert ship(client, flow.order, [b], "SF6").status_code == 201
    assert balanced(flow.campaign) and balanced(other.campaign)


def test_only_staff_and_the_owner_record_and_deliver(flow, owner, shop, other_shop, api_for):
    a = flow.pledges[0]
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    assert ship(api_for(other_shop.owner), flow.order, [a], "X1").status_code == 404
    assert ship(api_for(a.fan.user), flow.order, [a], "X1").status_code == 404
    assert ship(api_for(assistant), flow.order, [a], "X1").status_code == 403
    assert Shipment.objects.count() == 0
    admin = UserFactory(username="platform", is_staff=True)
    shipment_id = ship(api_for(admin), flow.order, [a], "X1").json()["id"]
    for user in (other_shop.owner, a.fan.user):
        assert api_for(user).post(f"/api/shipments/{shipment_id}/deliver/").status_code == 404
        assert api_for(user).post(f"/api/shipments/{shipment_id}/lost/").status_code == 404
    assert api_for(assistant).post(f"/api/shipments/{shipment_id}/deliver/").status_code == 403
    assert Shipment.objects.get().status == "shipped"
    assert api_for(admin).post(f"/api/shipments/{shipment_id}/deliver/").json()["status"] == "delivered"
    # A delivered parcel cannot be lost; confirming twice keeps the first.
    assert api_for(owner).post(f"/api/shipments/{shipment_id}/lost/").json()["code"] == "shipment_delivered"


def test_lost_parcel_goes_out_again(flow, owner, api_for, django_capture_on_commit_callbacks):
    a = flow.pledges[0]
    client = api_for(owner)
    first = ship(client, flow.order, [a], "LOST1").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        lost = client.post(f"/api/shipments/{first}/lost/")
    assert lost.status_code == 200 and lost.json()["status"] == "lost"
    assert len(cards(a.fan, "shipment_lost")) == 1
    assert client.post(f"/api/shipments/{first}/deliver/").json()["code"] == "shipment_lost"
    assert api_for(a.fan.user).post(f"/api/shipments/{first}/confirm/").json()["code"] == "shipment_lost"
    again = ship(client, flow.order, [a], "AGAIN1")
    assert again.status_code == 201
    assert list(ShipmentItem.objects.filter(pledge=a).values_list("lost", flat=True).order_by("pk")) == [
        True,
        False,
    ]


def test_receipt_confirmed_automatically_seven_days_after_delivery(flow, owner, api_for):
    from preorders.tasks import shipments_autoconfirm_run_task

    client = api_for(owner)
    old, recent, undelivered = (
        ship(client, flow.order, [p], f"T{p.pk}").json()["id"] for p in flow.pledges[:3]
    )
    for sid in (old, recent):
        client.post(f"/api/shipments/{sid}/deliver/")
    Shipment.objects.filter(pk=old).update(delivered_at=timezone.now() - dt.timedelta(days=7, minutes=1))
    Shipment.objects.filter(pk=recent).update(delivered_at=timezone.now() - dt.timedelta(days=6))
    shipments_autoconfirm_run_task()
    rows = {s.pk: s for s in Shipment.objects.all()}
    assert rows[old].confirmed_by == "auto" and rows[old].confirmed_at is not None
    assert rows[recent].confirmed_at is None and rows[undelivered].confirmed_at is None
    assert "preorders.tasks.shipments_autoconfirm_run_task" in {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["schedule"] == 60.0
    }


# --- CSV and the factory's board ------------------------------------------------------------------------


def csv_upload(client, url, text):
    upload = io.BytesIO(text.encode("utf-8"))
    upload.name = "shipments.csv"
    return client.post(url, {"file": upload}, format="multipart")


def test_csv_import_records_good_rows_and_reports_bad_ones(flow, owner, api_for):
    a, b, c, d = flow.pledges
    text = (
        "pledge_ids,carrier,tracking_number,shipped_at\n"
        f"{a.pk},顺丰,CSV-A,2026-01-02\n"
        f"{flow.lapsed.pk},顺丰,CSV-E,\n"
        f"{b.pk},顺丰,CSV-A,\n"
        f"{c.pk},,CSV-C,\n"
        "abc,顺丰,CSV-X,\n"
        f"{a.pk},中通,CSV-A2,\n"
        f"{d.pk};{c.pk},顺丰,CSV-CD,\n"
        f"{b.pk},圆通,CSV-B,2026-01-03 10:00\n"
    )
    response = csv_upload(api_for(owner), f"/api/factory-orders/{flow.order.pk}/shipments/import/", text)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["created"] == 2
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (3, "pledge_not_paid"),
        (4, "tracking_number_reused"),
        (5, "carrier_required"),
        (6, "pledges_invalid"),
        (7, "already_shipped"),
        (8, "several_fans"),
    ]
    assert all(e["message"] for e in body["errors"])
    assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == ["CSV-A", "CSV-B"]
    missing = csv_upload(
        api_for(owner), f"/api/factory-orders/{flow.order.pk}/shipments/import/", "a,b\n1,2\n"
    )
    assert missing.status_code == 400 and missing.json()["code"] == "missing_columns"


def test_board_token_sees_only_its_factory_and_ships(
    flow, owner, shop, api_for, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    a, b = flow.pledges[0], flow.pledges[1]
    token = board_token(flow.order.factory_product.factory)
    board = APIClient()
    listed = board.get(f"/api/factory-board/{token}/orders/")
    assert listed.status_code == 200
    (order,) = listed.json()["orders"]
    assert order["id"] == flow.order.pk and order["units"] == 12
    assert {line["pledge"] for line in order["lines"]} == {p.pk for p in flow.pledges}
    line = next(line for line in order["lines"] if line["pledge"] == a.pk)
    assert set(line) == {"pledge", "recipient", "variant_name", "sku", "quantity", "shipment"}
    assert line["quantity"] == 3 and line["sku"] == "F-DOWN-L"
    assert a.fan.display_name not in listed.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        created = board.post(
            f"/api/factory-board/{token}/orders/{flow.order.pk}/shipments/",
            {"pledges": [a.pk], "carrier": "京东", "tracking_number": "JD1"},
            format="json",
        )
    assert created.status_code == 201, created.json()
    assert Shipment.objects.get().recorded_by is None and len(cards(a.fan, "shipment")) == 1
    imported = csv_upload(
        board,
        f"/api/factory-board/{token}/orders/{flow.order.pk}/shipments/import/",
        f"pledge_ids,carrier,tracking_number\n{b.pk},京东,JD2\n{b.pk},京东,JD3\n",
    )
    assert imported.json()["created"] == 1 and imported.json()["errors"][0]["code"] == "already_shipped"
    shipment_id = created.json()["id"]
    assert (
        board.post(f"/api/factory-board/{token}/shipments/{shipment_id}/deliver/").json()["status"]
        == "delivered"
    )

    # Another factory's token sees none of it; a forged token nothing at all.
    other_token = board_token(Factory.objects.create(name="别的工厂"))
    assert board.get(f"/api/factory-board/{other_token}/orders/").json()["orders"] == []
    for url in (
        f"/api/factory-board/{other_token}/orders/{flow.order.pk}/shipments/",
        f"/api/factory-board/{other_token}/shipments/{shipment_id}/lost/",
        f"/api/factory-board/{token}x/orders/",
    ):
        response = board.post(url, {"pledges": [b.pk], "carrier": "x", "tracking_number": "y"}, format="json")
        assert response.status_code in (404, 405)
        assert board.get(url).status_code in (404, 405)
    assert board.get(f"/api/factory-board/{token}x/orders/").status_code == 404
    assert Shipment.objects.count() == 2


def test_admin_marks_a_parcel_delivered(flow, owner, api_for, client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    sid = ship(api_for(owner), flow.order, [flow.pledges[0]], "ADM1").json()["id"]
    client.force_login(admin)
    marked = client.post(
        "/admin/preorders/shipment/", {"action": "mark_delivered", "_selected_action": [sid]}
    )
    assert marked.status_code == 302
    assert Shipment.objects.get(pk=sid).status == "delivered"
    assert client.get(f"/admin/preorders/shipment/{sid}/change/").status_code == 200
    assert client.get("/admin/preorders/aftersalesrequest/").status_code == 200


def test_lists_do_not_grow_queries_with_rows(
    flow, owner, api_for, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    client = api_for(owner)
    for p in flow.pledges:
        sid = ship(client, flow.order, [p], f"Q{p.pk}").json()["id"]
        client.post(f"/api/shipments/{sid}/deliver/")
        api_for(p.fan.user).post(
            f"/api/pledges/{p.pk}/after-sales/", {"kind": "refund", "reason": "x"}, format="json"
        )
    admin = api_for(UserFactory(username="platform", is_staff=True))
    with django_assert_max_num_queries(12):
        assert len(client.get(f"/api/after-sales/?campaign={flow.campaign.pk}").json()) == 4
    with django_assert_max_num_queries(12):
        assert len(admin.get("/api/factory-orders/").json()) == 1
    with django_assert_max_num_queries(12):
        lines = client.get(f"/api/factory-orders/{flow.order.pk}/shipments/").json()
    assert len(lines["lines"]) == 4 and len(lines["shipments"]) == 4
    with django_assert_max_num_queries(10):
        board = APIClient().get(
            f"/api/factory-board/{board_token(flow.order.factory_product.factory)}/orders/"
        )
    assert board.json()["orders"][0]["units_shipped"] == 12
