"""The WeChat Pay adapter against a fake WeChat on the wire: notifications, read in both key modes, and
the tampered, foreign-signed, unknown-serial, wrongly sealed or misshapen ones refused."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from payments.provider import (
    SUCCEEDED,
    BadNotification,
    Notification,
)
from payments.wechatpay import WeChatPayProvider
from tests.payments.wechatpay_helpers import (
    MCHID,
    PUBLIC_KEY_ID,
    Keys,
    notification,
    paid_transaction,
    private_pem,
    signed_headers,
    wechatpay_settings,
)


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
