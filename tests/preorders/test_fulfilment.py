"""Per-fan fulfilment and 慢就赔 through HTTP with the real app configuration: a campaign closes, fans pay
their balances (one lapses), the factory order is built from paid units, its parcels are recorded, delivered
and confirmed, after-sales requests are approved (refunded through the provider) or declined, and every
paid unit unshipped at ship_by is compensated exactly once even when the sweep is killed half-way."""

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from PIL import Image

from fans.chat.models import Fan, Message, MessageKind
from payments.ledger import Posting, ledger_post, statement
from payments.models import Account, LedgerTransaction, SimulatedTransaction
from preorders.api_factory import board_token
from preorders.models import (
    AfterSalesRequest,
    Campaign,
    Credit,
    FactoryOrder,
    Pledge,
    PledgeNotice,
    Shipment,
    ShipmentItem,
)
from preorders.services import campaign_close, pledge_place
from preorders.services import late_compensation as late
from preorders.services.balance import balance_lapse_run, balance_pay
from preorders.services.factory_orders import campaign_after_lapse, factory_order_transition
from shops.models import Factory, FactoryProduct, FactoryVariant, ShopRole
from tests.factories import FanFactory, ShopFactory, ShopMemberFactory, UserFactory
from tests.preorders.conftest import expire, make_campaign, shop_product

pytestmark = pytest.mark.django_db


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


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def paid_of(pledge: Pledge) -> Decimal:
    return pledge.deposit_amount + pledge.balance_due


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


# --- after-sales ----------------------------------------------------------------------------------------


def delivered(flow, owner, api_for, pledge) -> Shipment:
    sid = ship(api_for(owner), flow.order, [pledge], f"D{pledge.pk}").json()["id"]
    api_for(owner).post(f"/api/shipments/{sid}/deliver/")
    return Shipment.objects.get(pk=sid)


def test_after_sales_refund_approved_refunds_through_the_provider(
    flow, owner, shop, api_for, django_capture_on_commit_callbacks
):
    a = flow.pledges[0]
    delivered(flow, owner, api_for, a)
    photo = io.BytesIO(png_bytes())
    photo.name = "broken.png"
    fan = api_for(a.fan.user)
    created = fan.post(
        f"/api/pledges/{a.pk}/after-sales/",
        {"kind": "refund", "reason": "拉链坏了", "photo": photo},
        format="multipart",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["amount"] == str(paid_of(a)) == "1350.00" and body["status"] == "open"
    request = AfterSalesRequest.objects.get(pk=body["id"])
    assert request.photo.name.startswith("after_sales/")
    # The photo: the fan and the shop's staff only.
    assert fan.get(body["photo"]).status_code == 200
    assert (
        api_for(ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user).get(body["photo"]).status_code
        == 200
    )
    assert api_for(flow.fans[1].user).get(body["photo"]).status_code == 404
    # The owner's list, and the approval.
    listed = api_for(owner).get(f"/api/after-sales/?campaign={flow.campaign.pk}").json()
    assert [r["id"] for r in listed] == [request.pk]
    with django_capture_on_commit_callbacks(execute=True):
        approved = api_for(owner).post(
            f"/api/after-sales/{request.pk}/approve/", {"reason": "同意"}, format="json"
        )
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved" and approved.json()["refunded"] is True
    credit = Credit.objects.get(kind="after_sales_refund")
    assert credit.pledge_id == a.pk and credit.amount == Decimal("1350.00") and credit.paid_out
    refund = SimulatedTransaction.objects.get(kind="refund", reference=credit.reference)
    assert refund.amount == Decimal("1350.00") and refund.status == "succeeded"
    txn = LedgerTransaction.objects.get(reference=credit.reference)
    assert txn.kind == "after_sales_refund" and txn.pledge_id == a.pk
    assert dict(txn.legs.values_list("account", "amount")) == {
        Account.FANS_HELD: Decimal("1350.00"),  # the money was not released yet
        Account.PROVIDER: Decimal("-1350.00"),
    }
    assert len(cards(a.fan, "after_sales_approved")) == 1
    # Approving again changes nothing and refunds nothing more.
    assert api_for(owner).post(f"/api/after-sales/{request.pk}/approve/").status_code == 200
    assert SimulatedTransaction.objects.filter(kind="refund", reference=credit.reference).count() == 1
    assert LedgerTransaction.objects.filter(kind="after_sales_refund").count() == 1
    assert statement(campaign_id=flow.campaign.pk)["refunded"] == Decimal("1350.00")
    assert balanced(flow.campaign)


def test_after_sales_after_release_comes_out_of_the_shop_settlement(flow, owner, api_for):
    a = flow.pledges[0]
    delivered(flow, owner, api_for, a)
    held = statement(campaign_id=flow.campaign.pk)["held"]
    # What the release posting (another engineer's) looks like: the held money goes to the payables.
    ledger_post(
        Posting(
            "release",
            f"campaign-{flow.campaign.pk}-release",
            held,
            [(Account.FANS_HELD, held), (Account.SHOP_PAYABLE, -held)],
            campaign_id=flow.campaign.pk,
            shop_id=flow.campaign.shop_id,
        )
    )
    request_id = (
        api_for(a.fan.user)
        .post(
            f"/api/pledges/{a.pk}/after-sales/",
            {"kind": "return", "reason": "尺码不对", "amount": "100.50"},
            format="json",
        )
        .json()["id"]
    )
    assert api_for(owner).post(f"/api/after-sales/{request_id}/approve/").status_code == 200
    txn = LedgerTransaction.objects.get(kind="after_sales_refund")
    assert dict(txn.legs.values_list("account", "amount")) == {
        Account.SHOP_PAYABLE: Decimal("100.50"),
        Account.PROVIDER: Decimal("-100.50"),
    }
    assert balanced(flow.campaign)


def test_after_sales_refusals_write_nothing(flow, owner, api_for):
    a, b = flow.pledges[0], flow.pledges[1]
    fan = api_for(a.fan.user)
    url = f"/api/pledges/{a.pk}/after-sales/"

    def refused(data, status, code, fmt="json"):
        response = fan.post(url, data, format=fmt)
        assert response.status_code == status, response.json()
        assert response.json()["code"] == code
        assert AfterSalesRequest.objects.count() == count

    count = 0
    refused({"kind": "refund", "reason": "坏了"}, 409, "not_delivered")
    shipment = delivered(flow, owner, api_for, a)
    refused(
        {"kind": "refund", "reason": "坏了", "amount": str(paid_of(a) + Decimal("0.01"))},
        400,
        "amount_invalid",
    )
    refused({"kind": "refund", "reason": "坏了", "amount": "0"}, 400, "amount_invalid")
    refused({"kind": "swap", "reason": "坏了"}, 400, "kind_invalid")
    refused({"kind": "refund", "reason": " "}, 400, "reason_required")
    bad_photo = io.BytesIO(b"not an image at all")
    bad_photo.name = "x.png"
    refused({"kind": "refund", "reason": "坏了", "photo": bad_photo}, 400, "invalid_image", fmt="multipart")
    assert api_for(b.fan.user).post(url, {"kind": "refund", "reason": "x"}, format="json").status_code == 404
    assert (
        fan.post(url, {"kind": "refund", "reason": "坏了", "amount": "10"}, format="json").status_code == 201
    )
    count = 1
    refused({"kind": "return", "reason": "又坏了"}, 409, "after_sales_open")
    Shipment.objects.filter(pk=shipment.pk).update(delivered_at=timezone.now() - dt.timedelta(days=31))
    AfterSalesRequest.objects.update(status="declined", decided_at=timezone.now(), decision_reason="x")
    refused({"kind": "return", "reason": "又坏了"}, 409, "after_sales_window_closed")
    assert Credit.objects.filter(kind="after_sales_refund").count() == 0


def test_after_sales_declined_with_a_reason(
    flow, owner, shop, other_shop, api_for, django_capture_on_commit_callbacks
):
    a = flow.pledges[0]
    delivered(flow, owner, api_for, a)
    request_id = (
        api_for(a.fan.user)
        .post(f"/api/pledges/{a.pk}/after-sales/", {"kind": "return", "reason": "不喜欢"}, format="json")
        .json()["id"]
    )
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    assert (
        api_for(other_shop.owner).post(f"/api/after-sales/{request_id}/decline/", {"reason": "x"}).status_code
        == 404
    )
    assert api_for(other_shop.owner).get(f"/api/after-sales/?campaign={flow.campaign.pk}").status_code == 404
    assert api_for(assistant).post(f"/api/after-sales/{request_id}/approve/").status_code == 403
    assert api_for(a.fan.user).post(f"/api/after-sales/{request_id}/approve/").status_code == 404
    empty = api_for(owner).post(f"/api/after-sales/{request_id}/decline/", {"reason": ""}, format="json")
    assert empty.status_code == 400 and empty.json()["code"] == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        declined = api_for(owner).post(
            f"/api/after-sales/{request_id}/decline/", {"reason": "已穿着，不支持退货"}, format="json"
        )
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert declined.json()["decision_reason"] == "已穿着，不支持退货"
    assert len(cards(a.fan, "after_sales_declined")) == 1
    again = api_for(owner).post(f"/api/after-sales/{request_id}/approve/")
    assert again.status_code == 409 and again.json()["code"] == "after_sales_decided"
    assert Credit.objects.filter(kind="after_sales_refund").count() == 0
    assert not LedgerTransaction.objects.filter(kind="after_sales_refund").exists()
    assert balanced(flow.campaign)


# --- 慢就赔 ----------------------------------------------------------------------------------------------


def past_ship_by(campaign: Campaign) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(ship_by=timezone.now() - dt.timedelta(seconds=1))
    campaign.refresh_from_db()


def test_late_compensation_exactly_once_even_when_killed_mid_run(
    flow, owner, api_for, monkeypatch, django_capture_on_commit_callbacks
):
    from preorders.tasks import late_compensation_due_task

    a, b, c, d = flow.pledges
    ship(api_for(owner), flow.order, [a], "ONTIME")
    # B's parcel was lost: B counts as unshipped.
    lost = ship(api_for(owner), flow.order, [b], "LOSTB").json()["id"]
    api_for(owner).post(f"/api/shipments/{lost}/lost/")
    # Staff see the risk before ship_by.
    risk = api_for(owner).get(f"/api/campaigns/{flow.campaign.pk}/late-risk/").json()
    assert risk["unshipped_units"] == 9 and risk["unshipped_pledges"] == 3 and risk["paid_units"] == 12
    assert risk["compensation_at_risk"] == "202.50" and risk["seconds_left"] > 0  # 3 x 5% of 1350
    past_ship_by(flow.campaign)

    paid_out = []

    def killed(credit_id):
        paid_out.append(credit_id)
        if len(paid_out) == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(late, "_after_payout", killed)
    with pytest.raises(RuntimeError):
        late.late_compensation_run(campaign_id=flow.campaign.pk)
    assert Credit.objects.filter(kind="late_compensation").count() == 3  # every intent written first
    assert Credit.objects.filter(kind="late_compensation", paid_out=True).count() == 2
    assert balanced(flow.campaign)
    monkeypatch.setattr(late, "_after_payout", lambda credit_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        late_compensation_due_task()
        late_compensation_due_task()
        assert late.late_compensation_run(campaign_id=flow.campaign.pk)

    credits = Credit.objects.filter(kind="late_compensation").order_by("pledge_id")
    assert [(cr.pledge_id, cr.amount, cr.paid_out) for cr in credits] == [
        (p.pk, Decimal("67.50"), True) for p in (b, c, d)
    ]
    txns = LedgerTransaction.objects.filter(kind="compensation").order_by("pledge_id")
    assert [(t.pledge_id, t.reference, t.amount) for t in txns] == [
        (p.pk, f"pledge-{p.pk}-late", Decimal("67.50")) for p in (b, c, d)
    ]
    for t in txns:
        assert dict(t.legs.values_list("account", "amount")) == {
            Account.SHOP_PAYABLE: Decimal("67.50"),
            Account.PROVIDER: Decimal("-67.50"),
        }
        assert t.factory_id is None
    assert SimulatedTransaction.objects.filter(kind="refund", reference__endswith="-late").count() == 3
    for p in (b, c, d):
        assert PledgeNotice.objects.filter(pledge=p, kind="late_compensation").count() == 1
        (card,) = cards(p.fan, "late_compensation")
        assert card["amount"] == "67.50"
    assert cards(a.fan, "late_compensation") == [] and cards(flow.lapsed.fan, "late_compensation") == []
    summary = statement(campaign_id=flow.campaign.pk)
    assert summary["compensated"] == Decimal("202.50") and summary["balanced"]
    assert summary["payable_to_shop"] == Decimal("-202.50")  # taken from the shop's settlement
    flow.campaign.refresh_from_db()
    assert flow.campaign.late_checked_at is not None
    assert "preorders.tasks.late_compensation_due_task" in {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["schedule"] == 60.0
    }


def test_late_compensation_charged_to_a_factory_that_had_its_lead_time(flow, owner, api_for):
    factory_order_transition(order_id=flow.order.pk, status="sent")
    lead = flow.order.factory_product.lead_time_days
    # Sent a full lead time (and a day) before ship_by; ship_by then passes with nothing shipped.
    ship_by = timezone.now() - dt.timedelta(seconds=1)
    FactoryOrder.objects.filter(pk=flow.order.pk).update(sent_at=ship_by - dt.timedelta(days=lead + 1))
    past_ship_by(flow.campaign)
    assert late.late_compensation_run(campaign_id=flow.campaign.pk)
    txns = list(LedgerTransaction.objects.filter(kind="compensation"))
    assert len(txns) == 4
    factory_id = flow.order.factory_product.factory_id
    for t in txns:
        assert t.factory_id == factory_id
        assert dict(t.legs.values_list("account", "amount")) == {
            Account.FACTORY_PAYABLE: Decimal("67.50"),
            Account.PROVIDER: Decimal("-67.50"),
        }
    assert statement(factory_id=factory_id)["balanced"] and balanced(flow.campaign)


def test_late_compensation_waits_for_ship_by_and_skips_a_short_lead_time(flow, owner, api_for):
    assert not late.late_compensation_run(campaign_id=flow.campaign.pk)  # ship_by is ahead
    assert Credit.objects.filter(kind="late_compensation").count() == 0
    factory_order_transition(order_id=flow.order.pk, status="sent")  # sent now: no full lead time left
    past_ship_by(flow.campaign)
    assert late.late_compensation_run(campaign_id=flow.campaign.pk)
    accounts = set(
        LedgerTransaction.objects.filter(kind="compensation").values_list("legs__account", flat=True)
    )
    assert accounts == {Account.SHOP_PAYABLE, Account.PROVIDER}


def test_late_risk_is_for_the_shop_staff(flow, other_shop, api_for):
    url = f"/api/campaigns/{flow.campaign.pk}/late-risk/"
    assert api_for(other_shop.owner).get(url).status_code == 404
    assert api_for(flow.fans[0].user).get(url).status_code == 404
    assert api_for(ShopFactory().owner).get(url).status_code == 404


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
