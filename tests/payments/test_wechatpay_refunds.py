"""The WeChat Pay adapter against a fake WeChat on the wire: refunds, voids and queries."""

from decimal import Decimal

import pytest

from payments.provider import (
    DECLINED,
    PENDING,
    SUCCEEDED,
    PaymentDeclined,
    ProviderReply,
)
from tests.payments.wechatpay_helpers import MCHID, NOTIFY_URL, paid_transaction

# --- refunds, voids, queries ---------------------------------------------------------------------------


def test_refund_asks_the_orders_total_and_refunds_in_fen(provider, wire):
    wire.answer(200, paid_transaction("pledge-123-charge", total=10000))
    wire.answer(
        200,
        {
            "refund_id": "50000000382019052709732678859",
            "out_refund_no": "pledge-123-cancel-refund",
            "status": "PROCESSING",
            "amount": {"total": 10000, "refund": 2550, "payer_total": 10000, "payer_refund": 2550},
        },
    )

    reply = provider.refund(
        reference="pledge-123-cancel-refund",
        charge_reference="pledge-123-charge",
        amount=Decimal("25.50"),
        currency="CNY",
    )

    assert wire.path(0) == "/v3/pay/transactions/out-trade-no/pledge-123-charge?mchid=1900000109"
    assert wire.path(1) == "/v3/refund/domestic/refunds"
    assert wire.body(1) == {
        "notify_url": NOTIFY_URL,
        "out_refund_no": "pledge-123-cancel-refund",
        "out_trade_no": "pledge-123-charge",
        "amount": {"refund": 2550, "total": 10000, "currency": "CNY"},
    }
    assert reply == ProviderReply(
        reference="pledge-123-cancel-refund",
        status=PENDING,
        provider_id="50000000382019052709732678859",
        amount=Decimal("25.50"),
    )


def test_refund_of_an_unpaid_charge_is_declined(provider, wire):
    wire.answer(200, paid_transaction("pledge-123-charge") | {"trade_state": "NOTPAY"})

    with pytest.raises(PaymentDeclined, match="no paid"):
        provider.refund(
            reference="pledge-123-cancel-refund",
            charge_reference="pledge-123-charge",
            amount=Decimal("1.00"),
            currency="CNY",
        )
    assert len(wire.sent) == 1


@pytest.mark.parametrize(
    ("trade_state", "status"),
    [
        ("SUCCESS", SUCCEEDED),
        ("REFUND", SUCCEEDED),
        ("NOTPAY", PENDING),
        ("USERPAYING", PENDING),
        ("CLOSED", DECLINED),
        ("PAYERROR", DECLINED),
        ("REVOKED", DECLINED),
    ],
)
def test_query_maps_trade_state(provider, wire, trade_state, status):
    wire.answer(200, paid_transaction("pledge-1-charge") | {"trade_state": trade_state})

    assert provider.query(reference="pledge-1-charge") == status
    assert wire.sent[-1].method == "GET"
    assert wire.path() == "/v3/pay/transactions/out-trade-no/pledge-1-charge?mchid=1900000109"


def test_query_of_an_order_wechat_never_saw_is_none(provider, wire):
    wire.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})

    assert provider.query(reference="pledge-1-charge") is None


def test_void_closes_the_order(provider, wire):
    wire.answer(204)

    provider.void(reference="pledge-1-charge")

    assert wire.path() == "/v3/pay/transactions/out-trade-no/pledge-1-charge/close"
    assert wire.body() == {"mchid": MCHID}


def test_void_of_an_order_already_paid_refunds_it_in_full(provider, wire):
    wire.answer(400, {"code": "ORDERPAID", "message": "订单已支付"})
    wire.answer(200, paid_transaction("pledge-1-charge", total=5000))
    wire.answer(
        200,
        {
            "refund_id": "5000",
            "out_refund_no": "pledge-1-charge-void",
            "status": "SUCCESS",
            "amount": {"refund": 5000},
        },
    )

    provider.void(reference="pledge-1-charge")

    assert wire.body(2)["out_refund_no"] == "pledge-1-charge-void"
    assert wire.body(2)["amount"] == {"refund": 5000, "total": 5000, "currency": "CNY"}


def test_void_of_a_closed_order_is_a_no_op(provider, wire):
    wire.answer(400, {"code": "ORDER_CLOSED", "message": "订单已关闭"})
    wire.answer(200, paid_transaction("pledge-1-charge") | {"trade_state": "CLOSED"})

    provider.void(reference="pledge-1-charge")

    assert len(wire.sent) == 2
