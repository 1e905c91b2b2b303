"""The WeChat Pay adapter against a fake WeChat on the wire: the SDK signs, sends and verifies itself.

Only requests' transport (HTTPAdapter.send) is replaced. Answers and notifications are signed with a
platform key pair made here, the way WeChat signs them, so the SDK's verification runs for real.
This file: charges and configuration; test_wechatpay_refunds.py: refunds, voids and queries;
test_wechatpay_notifications.py: notifications; test_wechatpay_records.py: the daily bills.
"""

import base64
import hashlib
import re
from decimal import Decimal

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.core.exceptions import ImproperlyConfigured

from payments.provider import (
    PENDING,
    SUCCEEDED,
    ChargeRequest,
    PaymentDeclined,
    PaymentTimeout,
    ProviderReply,
)
from payments.wechatpay import WeChatPayProvider, trade_no
from tests.payments.wechatpay_helpers import (
    APPID,
    MCHID,
    NOTIFY_URL,
    PUBLIC_KEY_ID,
    notification,
    paid_transaction,
    wechatpay_settings,
)


def charge_request(reference: str = "pledge-123-balance-1", amount: str = "123.45") -> ChargeRequest:
    return ChargeRequest(
        reference=reference, amount=Decimal(amount), currency="CNY", user_id=7, description="定金"
    )


# --- charges -------------------------------------------------------------------------------------------


def test_charge_places_a_native_order_in_fen_and_is_pending(provider, wire, keys):
    wire.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"})

    reply = provider.charge(charge_request())

    assert reply == ProviderReply(
        reference="pledge-123-balance-1",
        status=PENDING,
        provider_id="weixin://wxpay/bizpayurl?pr=p4lpSuKzz",
        amount=Decimal("123.45"),
    )
    assert wire.path() == "/v3/pay/transactions/native"
    assert wire.body() == {
        "notify_url": NOTIFY_URL,
        "description": "定金",
        "out_trade_no": "pledge-123-balance-1",
        "amount": {"total": 12345, "currency": "CNY"},
        "attach": "pledge-123-balance-1",
        "appid": APPID,
        "mchid": MCHID,
    }


def test_charge_request_is_signed_with_the_merchant_key(provider, wire, keys):
    wire.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=x"})

    provider.charge(charge_request())

    sent = wire.sent[-1]
    fields = dict(re.findall(r'(\w+)="([^"]*)"', sent.headers["Authorization"]))
    assert sent.headers["Authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")
    assert fields["mchid"] == MCHID and fields["serial_no"] == "444F4864EA9B34415A8E0F2E38A1F1B7D8C0A001"
    message = f"POST\n/v3/pay/transactions/native\n{fields['timestamp']}\n{fields['nonce_str']}\n"
    keys.merchant.public_key().verify(
        base64.b64decode(fields["signature"]),
        message.encode() + sent.body + b"\n",
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert sent.headers["Wechatpay-Serial"] == PUBLIC_KEY_ID


def test_reference_that_does_not_fit_out_trade_no_maps_to_a_hash_and_comes_back(provider, wire):
    reference = "cycle-55-pledge-9-a2-subscription-renewal-2026-03"  # 49 characters
    wire.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=x"})

    provider.charge(charge_request(reference))

    number = wire.body()["out_trade_no"]
    assert number == hashlib.sha256(reference.encode()).hexdigest()[:32] == trade_no(reference)
    assert wire.body()["attach"] == reference
    assert trade_no("pledge-1-charge") == "pledge-1-charge"
    assert trade_no("p-1") != "p-1" and len(trade_no("p-1")) == 32  # under 6 characters
    assert trade_no("pledge 1/charge") != "pledge 1/charge"  # characters WeChat refuses

    headers, body = notification(
        wire.keys.platform, PUBLIC_KEY_ID, "TRANSACTION.SUCCESS", paid_transaction(number, attach=reference)
    )
    assert provider.notification_parse(headers=headers, body=body).reference == reference


def test_jsapi_charge_sends_the_payers_openid(settings, keys, wire):
    settings.FANSI_WECHATPAY = wechatpay_settings(
        keys, pay_type="jsapi", payer_openid="tests.payments.test_wechatpay.openid_of"
    )
    wire.answer(200, {"prepay_id": "wx201410272009395522657a690389285100"})

    reply = WeChatPayProvider().charge(charge_request())

    assert wire.path() == "/v3/pay/transactions/jsapi"
    assert wire.body()["payer"] == {"openid": "openid-of-7"}
    assert reply.provider_id == "wx201410272009395522657a690389285100"


def openid_of(user_id: int) -> str:
    return f"openid-of-{user_id}"


def test_error_answer_raises_declined_with_wechats_message(provider, wire):
    wire.answer(400, {"code": "PARAM_ERROR", "message": "参数错误: amount.total 超出范围"})
    wire.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})

    with pytest.raises(PaymentDeclined, match="PARAM_ERROR: 参数错误"):
        provider.charge(charge_request())
    assert wire.path() == "/v3/pay/transactions/out-trade-no/pledge-123-balance-1?mchid=1900000109"


def test_retry_of_an_order_already_paid_reports_it_succeeded(provider, wire):
    wire.answer(400, {"code": "INVALID_REQUEST", "message": "该订单已支付"})
    wire.answer(200, paid_transaction("pledge-123-balance-1"))

    reply = provider.charge(charge_request())

    assert reply.status == SUCCEEDED
    assert reply.provider_id == "4200000985202603011234567890"
    assert reply.amount == Decimal("123.45")


@pytest.mark.parametrize("exc", [requests.ReadTimeout("read timed out"), requests.ConnectTimeout("connect")])
def test_network_timeout_raises_payment_timeout(provider, wire, exc):
    wire.fail(exc)

    with pytest.raises(PaymentTimeout):
        provider.charge(charge_request())


def test_server_error_means_outcome_unknown(provider, wire):
    wire.answer(500, {"code": "SYSTEM_ERROR", "message": "系统错误"})

    with pytest.raises(PaymentTimeout, match="SYSTEM_ERROR"):
        provider.refund(
            reference="pledge-9-cancel-refund", charge_reference="p", amount=Decimal(1), currency="CNY"
        )


def test_answer_not_signed_by_wechat_raises_timeout(provider, wire, keys):
    wire.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=forged"}, signer=keys.stranger)

    with pytest.raises(PaymentTimeout, match="signature"):
        provider.charge(charge_request())


def test_charge_many_answers_each_request_in_order(provider, wire):
    wire.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=1"})
    wire.answer(403, {"code": "NOAUTH", "message": "商户无权限"})
    wire.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    wire.fail(requests.ReadTimeout("read timed out"))

    replies = provider.charge_many(
        [
            charge_request("cycle-55-pledge-9-a1"),
            charge_request("cycle-55-pledge-9-a2"),
            charge_request("cycle-55-pledge-9-a3"),
        ]
    )

    assert isinstance(replies[0], ProviderReply) and replies[0].status == PENDING
    assert isinstance(replies[1], PaymentDeclined) and "NOAUTH" in str(replies[1])
    assert isinstance(replies[2], PaymentTimeout)


def test_charge_refuses_other_currencies_and_fractions_of_a_fen(provider, wire):
    with pytest.raises(PaymentDeclined, match="CNY"):
        provider.charge(
            ChargeRequest(reference="pledge-1-charge", amount=Decimal(1), currency="USD", user_id=1)
        )
    with pytest.raises(ValueError, match="fen"):
        provider.charge(charge_request(amount="1.005"))
    assert wire.sent == []


# --- configuration -------------------------------------------------------------------------------------


def test_missing_configuration_is_reported(settings, keys):
    settings.FANSI_WECHATPAY = {"mchid": MCHID}
    with pytest.raises(ImproperlyConfigured, match="appid"):
        WeChatPayProvider()

    settings.FANSI_WECHATPAY = wechatpay_settings(keys, public_key=None)
    with pytest.raises(ImproperlyConfigured, match="cert_dir"):
        WeChatPayProvider()


def test_the_provider_is_picked_by_its_dotted_path(settings, keys, wire):
    from payments import provider as interface

    settings.FANSI_PAYMENT_PROVIDER = "payments.wechatpay.WeChatPayProvider"
    settings.FANSI_WECHATPAY = wechatpay_settings(keys)
    interface._providers.clear()
    try:
        assert isinstance(interface.payment_provider(), WeChatPayProvider)
    finally:
        interface._providers.clear()
