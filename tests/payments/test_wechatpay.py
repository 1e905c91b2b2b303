"""The WeChat Pay adapter against a fake WeChat on the wire: the SDK signs, sends and verifies itself.

Only requests' transport (HTTPAdapter.send) is replaced. Answers and notifications are signed with a
platform key pair made here, the way WeChat signs them, so the SDK's verification runs for real.
"""

import base64
import datetime as dt
import gzip
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from requests.structures import CaseInsensitiveDict

from payments.provider import (
    DECLINED,
    PENDING,
    SUCCEEDED,
    BadNotification,
    ChargeRequest,
    Notification,
    PaymentDeclined,
    PaymentError,
    PaymentTimeout,
    ProviderRecord,
    ProviderReply,
)
from payments.wechatpay import WeChatPayProvider, trade_no

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
APIV3_KEY = "0123456789abcdef0123456789ABCDEF"
NOTIFY_URL = "https://fansi.example/payments/wechat/notify"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"
GATEWAY = "https://api.mch.weixin.qq.com"


@dataclass(frozen=True)
class Keys:
    merchant: rsa.RSAPrivateKey  # apiclient_key.pem: signs our requests
    platform: rsa.RSAPrivateKey  # WeChat Pay's: signs answers and notifications
    stranger: rsa.RSAPrivateKey


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def signed_headers(key: rsa.RSAPrivateKey, serial: str, body: str) -> dict[str, str]:
    """The headers WeChat puts on an answer or a notification: SHA256withRSA over timestamp, nonce, body."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def notification(
    key: rsa.RSAPrivateKey, serial: str, event_type: str, resource: dict, *, apiv3_key: str = APIV3_KEY
) -> tuple[dict[str, str], bytes]:
    """A notification as WeChat sends it: the resource sealed with AES-256-GCM under the APIv3 key."""
    nonce, associated_data = secrets.token_hex(6), "transaction"
    sealed = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), associated_data.encode()
    )
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2026-03-01T10:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(),
                "associated_data": associated_data,
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    )
    return signed_headers(key, serial, body), body.encode()


def paid_transaction(out_trade_no: str, *, attach: str = "", total: int = 12345) -> dict:
    return {
        "mchid": MCHID,
        "appid": APPID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000985202603011234567890",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": attach,
        "success_time": "2026-03-01T10:00:00+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
    }


class FakeWeChat:
    """WeChat Pay's end of the wire: answers queued requests in order, signed with the platform key."""

    def __init__(self, keys: Keys, serial: str) -> None:
        self.keys, self.serial = keys, serial
        self.answers: list = []
        self.sent: list[requests.PreparedRequest] = []

    def answer(
        self, status: int, payload: dict | None = None, *, signer: rsa.RSAPrivateKey | None = None
    ) -> None:
        text = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        headers = {"Content-Type": "application/json", "Request-ID": "08F78BB5AF0610D302"}
        headers |= signed_headers(signer or self.keys.platform, self.serial, text)
        self.answers.append((status, text.encode(), headers))

    def answer_file(self, content: bytes) -> None:
        self.answers.append((200, content, {"Content-Type": "application/octet-stream"}))

    def fail(self, exc: Exception) -> None:
        self.answers.append(exc)

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        self.sent.append(request)
        assert self.answers, f"unexpected {request.method} {request.url}"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code, response._content, headers = answer
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = "utf-8"
        response.request, response.url = request, request.url
        return response

    def path(self, i: int = -1) -> str:
        url = urlsplit(self.sent[i].url)
        return url.path + (f"?{url.query}" if url.query else "")

    def body(self, i: int = -1) -> dict:
        return json.loads(self.sent[i].body)


@pytest.fixture(scope="module")
def keys() -> Keys:
    make = lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)  # noqa: E731
    return Keys(merchant=make(), platform=make(), stranger=make())


def wechatpay_settings(keys: Keys, **extra) -> dict:
    return {
        "mchid": MCHID,
        "appid": APPID,
        "private_key": private_pem(keys.merchant),
        "cert_serial_no": "444F4864EA9B34415A8E0F2E38A1F1B7D8C0A001",
        "apiv3_key": APIV3_KEY,
        "notify_url": NOTIFY_URL,
        "public_key": public_pem(keys.platform),
        "public_key_id": PUBLIC_KEY_ID,
    } | extra


def platform_certificate(keys: Keys, directory: Path) -> str:
    """A platform certificate on disk for the SDK's certificate mode; its serial as WeChat writes it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(keys.platform.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(keys.platform, hashes.SHA256())
    )
    serial = format(certificate.serial_number, "X")
    (directory / f"{serial}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return serial


@pytest.fixture
def wire(monkeypatch, keys) -> FakeWeChat:
    fake = FakeWeChat(keys, PUBLIC_KEY_ID)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake.send)
    return fake


@pytest.fixture
def provider(settings, keys, wire) -> WeChatPayProvider:
    settings.FANSI_WECHATPAY = wechatpay_settings(keys)
    return WeChatPayProvider()


@pytest.fixture(params=["public_key", "cert_dir"])
def any_mode(request, settings, keys, wire, tmp_path) -> tuple[WeChatPayProvider, str]:
    """The provider in both of the SDK's ways of knowing WeChat's key, and the serial WeChat signs with."""
    if request.param == "public_key":
        settings.FANSI_WECHATPAY = wechatpay_settings(keys)
        return WeChatPayProvider(), PUBLIC_KEY_ID
    serial = platform_certificate(keys, tmp_path)
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(private_pem(keys.merchant))
    settings.FANSI_WECHATPAY = wechatpay_settings(
        keys, public_key=None, public_key_id=None, cert_dir=str(tmp_path), private_key=str(key_file)
    )
    wire.serial = serial
    return WeChatPayProvider(), serial


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


# --- notifications -------------------------------------------------------------------------------------


def test_charge_notification_parses_in_both_key_modes(any_mode, keys):
    provider, serial = any_mode
    headers, body = notification(
        keys.platform, serial, "TRANSACTION.SUCCESS", paid_transaction("pledge-123-charge", total=12345)
    )

    assert provider.notification_parse(headers=headers, body=body) == Notification(
        provider_id="4200000985202603011234567890",
        reference="pledge-123-charge",
        kind="charge",
        status=SUCCEEDED,
        amount=Decimal("123.45"),
        currency="CNY",
    )


def test_refund_notification_parses(provider, keys):
    resource = {
        "mchid": MCHID,
        "out_trade_no": "pledge-123-charge",
        "transaction_id": "4200000985202603011234567890",
        "out_refund_no": "pledge-123-cancel-refund",
        "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS",
        "success_time": "2026-03-02T10:00:00+08:00",
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": 12345, "refund": 2550, "payer_total": 12345, "payer_refund": 2550},
    }
    headers, body = notification(keys.platform, PUBLIC_KEY_ID, "REFUND.SUCCESS", resource)

    assert provider.notification_parse(headers=headers, body=body) == Notification(
        provider_id="50000000382019052709732678859",
        reference="pledge-123-cancel-refund",
        kind="refund",
        status=SUCCEEDED,
        amount=Decimal("25.50"),
        currency="CNY",
    )


def test_notification_headers_as_django_meta_are_read(provider, keys):
    headers, body = notification(
        keys.platform, PUBLIC_KEY_ID, "TRANSACTION.SUCCESS", paid_transaction("pledge-1-x")
    )
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}

    assert provider.notification_parse(headers=meta, body=body).reference == "pledge-1-x"


def test_tampered_notification_body_is_refused(any_mode, keys, wire):
    provider, serial = any_mode
    headers, body = notification(keys.platform, serial, "TRANSACTION.SUCCESS", paid_transaction("pledge-1-x"))
    tampered = body.replace(b'"summary": "', b'"summary": "!')

    with pytest.raises(BadNotification):
        provider.notification_parse(headers=headers, body=tampered)
    assert wire.sent == []  # refused by the SDK's check against the key it holds, not a failed download


def test_notification_signed_by_another_key_is_refused(any_mode, keys, wire):
    provider, serial = any_mode
    headers, body = notification(keys.stranger, serial, "TRANSACTION.SUCCESS", paid_transaction("pledge-1-x"))

    with pytest.raises(BadNotification):
        provider.notification_parse(headers=headers, body=body)
    assert wire.sent == []


def test_notification_under_an_unknown_serial_is_refused_without_a_request(provider, keys, wire):
    headers, body = notification(
        keys.platform, "PUB_KEY_ID_OTHER", "TRANSACTION.SUCCESS", paid_transaction("p-1x")
    )

    with pytest.raises(BadNotification, match="Serial"):
        provider.notification_parse(headers=headers, body=body)
    assert wire.sent == []


def test_notification_sealed_with_another_apiv3_key_is_refused(provider, keys):
    headers, body = notification(
        keys.platform, PUBLIC_KEY_ID, "TRANSACTION.SUCCESS", paid_transaction("p-1x"), apiv3_key="x" * 32
    )

    with pytest.raises(BadNotification):
        provider.notification_parse(headers=headers, body=body)


@pytest.mark.parametrize(
    ("event_type", "resource"),
    [
        ("TRANSACTION.SUCCESS", paid_transaction("pledge-1-x") | {"mchid": "1900000999"}),
        ("TRANSACTION.SUCCESS", {"mchid": MCHID, "out_trade_no": "pledge-1-x"}),
        ("PROFITSHARING.SUCCESS", paid_transaction("pledge-1-x")),
    ],
    ids=["another-merchant", "fields-missing", "unknown-event"],
)
def test_notification_of_an_unexpected_shape_is_refused(provider, keys, event_type, resource):
    headers, body = notification(keys.platform, PUBLIC_KEY_ID, event_type, resource)

    with pytest.raises(BadNotification):
        provider.notification_parse(headers=headers, body=body)


def test_signed_body_that_is_not_json_is_refused(provider, keys):
    body = "<xml>not json</xml>"

    with pytest.raises(BadNotification):
        provider.notification_parse(
            headers=signed_headers(keys.platform, PUBLIC_KEY_ID, body), body=body.encode()
        )


# --- records -------------------------------------------------------------------------------------------

BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)


def bill_line(fields: dict[str, str]) -> str:
    """A detail line of the ALL bill: every field led by a backtick, none quoted (so 商品名称 keeps its comma)."""
    row = {"交易时间": "2026-03-01 10:00:00", "公众账号ID": APPID, "商户号": MCHID, "货币种类": "CNY"}
    row |= {"商品名称": "羽绒服, 黑色 M", "费率": "0.60%"} | fields
    return ",".join(f"`{row.get(column, '')}" for column in BILL_HEADER.split(","))


def charge_line(out_trade_no: str, attach: str, amount: str) -> str:
    return bill_line(
        {"交易状态": "SUCCESS", "商户订单号": out_trade_no, "商户数据包": attach, "订单金额": amount}
    )


def refund_line(out_refund_no: str, amount: str, status: str) -> str:
    fields = {"交易状态": "REFUND", "商户退款单号": out_refund_no, "退款金额": amount, "申请退款金额": amount}
    return bill_line(fields | {"退款状态": status, "退款类型": "ORIGINAL"})


def test_records_read_the_daily_trade_bills(provider, wire):
    long_reference = "cycle-55-pledge-9-a2-subscription-renewal-2026-03"
    lines = [
        BILL_HEADER,
        charge_line("pledge-1-charge", "pledge-1-charge", "100.00"),
        charge_line(trade_no(long_reference), long_reference, "12.30"),
        refund_line("pledge-1-cancel-refund", "25.50", "SUCCESS"),
        refund_line("pledge-2-cancel-refund", "9.00", "PROCESSING"),
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`4,`112.30,`34.50,`0.00,`0.67000,`112.30,`34.50",
    ]
    bill = "\r\n".join(lines).encode()
    download_url = f"{GATEWAY}/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA"
    wire.answer(404, {"code": "NO_STATEMENT_EXIST", "message": "账单文件不存在"})
    wire.answer(
        200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(bill).hexdigest(), "download_url": download_url}
    )
    wire.answer_file(gzip.compress(bill))

    records = list(provider.records(since=dt.date(2026, 2, 28), until=dt.date(2026, 3, 1)))

    assert records == [
        ProviderRecord(reference="pledge-1-charge", amount=Decimal("100.00")),
        ProviderRecord(reference=long_reference, amount=Decimal("12.30")),
        ProviderRecord(reference="pledge-1-cancel-refund", amount=Decimal("-25.50")),
    ]
    assert wire.path(0) == "/v3/bill/tradebill?bill_date=2026-02-28&bill_type=ALL&tar_type=GZIP"
    assert wire.path(1) == "/v3/bill/tradebill?bill_date=2026-03-01&bill_type=ALL&tar_type=GZIP"
    assert wire.path(2) == urlsplit(download_url).path + "?" + urlsplit(download_url).query


def test_records_refuse_a_bill_that_does_not_match_its_hash(provider, wire):
    bill = f"{BILL_HEADER}\n{charge_line('pledge-1-charge', '', '100.00')}\n".encode()
    wire.answer(
        200,
        {
            "hash_type": "SHA1",
            "hash_value": "0" * 40,
            "download_url": f"{GATEWAY}/v3/billdownload/file?token=t",
        },
    )
    wire.answer_file(gzip.compress(bill))

    with pytest.raises(PaymentError, match="hash"):
        list(provider.records(since=dt.date(2026, 3, 1), until=dt.date(2026, 3, 1)))


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
