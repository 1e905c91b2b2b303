"""After-sales on a delivered parcel through HTTP: a refund approved and paid back through the provider,
one after the release coming out of the shop's settlement, refusals that write nothing, and a decline."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image

from payments.ledger import Posting, ledger_post, statement
from payments.models import Account, LedgerTransaction, SimulatedTransaction
from preorders.models import (
    AfterSalesRequest,
    Credit,
    Pledge,
    Shipment,
)
from shops.models import ShopRole
from tests.factories import ShopMemberFactory
from tests.preorders.fulfilment_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.fulfilment_helpers import balanced, cards, delivered

pytestmark = pytest.mark.django_db


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def paid_of(pledge: Pledge) -> Decimal:
    return pledge.deposit_amount + pledge.balance_due


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
