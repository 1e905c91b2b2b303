"""WeChat Pay v3 behind the payment-provider interface, through the maintained `wechatpayv3` SDK.

Switch to it with FANSI_PAYMENT_PROVIDER = "payments.wechatpay.WeChatPayProvider" and FANSI_WECHATPAY:

    mchid, appid, cert_serial_no, apiv3_key (32 characters), notify_url
    private_key          the merchant's apiclient_key.pem: PEM text or a file path
    public_key, public_key_id   WeChat Pay's platform public key (PEM text or path) and its PUB_KEY_ID_...
    cert_dir             or, instead, a directory of platform certificates (the SDK downloads them when empty)
    pay_type             "native" (a QR code, the default) or "jsapi" (inside WeChat)
    payer_openid         for jsapi: dotted path to a callable(user_id) -> the payer's openid
    timeout              requests' (connect, read) seconds, default (5, 15)

A charge places an order and is always pending: the payer confirms in WeChat and the outcome arrives as a
TRANSACTION.SUCCESS notification. Our reference is the out_trade_no when it fits WeChat's rule, else a
32-character hash of it; the order's `attach` carries the reference itself, so notifications and bills
bring it back either way.
"""

import gzip
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string
from wechatpayv3 import WeChatPay, WeChatPayType

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

_TRADE_NO = re.compile(r"[A-Za-z0-9_\-|*]{6,32}")
_REFUND_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,64}")
_PAY_TYPES = {"native": WeChatPayType.NATIVE, "jsapi": WeChatPayType.JSAPI}
_REQUIRED = ("mchid", "appid", "private_key", "cert_serial_no", "apiv3_key", "notify_url")
_CALLBACK_HEADERS = (
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)
# REFUND: the charge went through and was (partly) refunded since; the refund is its own record.
_TRADE_STATES = {
    "SUCCESS": SUCCEEDED,
    "REFUND": SUCCEEDED,
    "NOTPAY": PENDING,
    "USERPAYING": PENDING,
    "CLOSED": DECLINED,
    "PAYERROR": DECLINED,
    "REVOKED": DECLINED,
}
_REFUND_STATUSES = {"SUCCESS": SUCCEEDED, "PROCESSING": PENDING, "ABNORMAL": PENDING}
_REFUND_EVENTS = {"REFUND.SUCCESS": SUCCEEDED, "REFUND.ABNORMAL": DECLINED, "REFUND.CLOSED": DECLINED}
# The SDK raises a bare Exception with this text for a 2xx answer whose signature does not verify.
_SDK_BAD_ANSWER = "failed to verify the signature"
# Trade bills are cut by China's calendar day and kept by WeChat for three months.
_BILL_ZONE = ZoneInfo("Asia/Shanghai")
_RECORDS_DAYS = 31


class WeChatPayDeclined(PaymentDeclined):
    """A 4xx answer: `status` and WeChat's error `code` (ORDER_NOT_EXIST, PARAM_ERROR, ...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"WeChat Pay {status} {code}: {message}")
        self.status = status
        self.code = code


def trade_no(reference: str) -> str:
    """The out_trade_no of a reference: itself when WeChat accepts it, else 32 hex digits of its SHA-256."""
    if _TRADE_NO.fullmatch(reference):
        return reference
    return hashlib.sha256(reference.encode()).hexdigest()[:32]


def refund_no(reference: str) -> str:
    """The out_refund_no of a refund reference, which must fit WeChat's rule as it is.

    Refund notifications carry no `attach`, so a hashed refund number could never be matched back.
    """
    if not _REFUND_NO.fullmatch(reference):
        raise ValueError(f"refund reference {reference!r} is not 1-64 of [A-Za-z0-9_-|*@]")
    return reference


def _fen(amount: Decimal) -> int:
    fen = Decimal(amount) * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of fen")
    return int(fen)


def _yuan(fen: int | str) -> Decimal:
    return Decimal(int(fen)).scaleb(-2)


def _cny(currency: str) -> None:
    if currency != "CNY":
        raise PaymentDeclined(f"WeChat Pay moves CNY only, not {currency}")


def _key_text(value: str | None) -> str | None:
    """PEM text as given, or the contents of the file it names (os.path.isfile is False for key text)."""
    if value and "-----BEGIN" not in value and os.path.isfile(value):
        with open(value, encoding="utf-8") as f:
            return f.read()
    return value


def _callback_headers(headers: dict[str, str]) -> dict[str, str]:
    """WeChat's callback headers under the names the SDK reads, from any casing or Django's META names."""
    found = {key.lower().removeprefix("http_").replace("_", "-"): value for key, value in headers.items()}
    return {name: found.get(name.lower(), "") for name in _CALLBACK_HEADERS}


def _bill_rows(text: str) -> Iterator[dict[str, str]]:
    """The detail rows of a trade bill: a header, lines whose every field starts with a backtick, a summary.

    Fields are split on ",`" rather than read as CSV: WeChat does not quote a product name holding a comma.
    """
    lines = text.splitlines()
    header = [name.strip() for name in lines[0].split(",")] if lines else []
    for line in lines[1:]:
        if not line:
            continue
        if not line.startswith("`"):
            return  # the summary block (总交易单数,...)
        yield dict(zip(header, (field.strip() for field in line[1:].split(",`")), strict=False))


def _charge_reference(attach: str, out_trade_no: str) -> str:
    """Our reference of an order: its attach when that maps to the order's number (so it is ours)."""
    return attach if attach and trade_no(attach) == out_trade_no else out_trade_no


class WeChatPayProvider:
    name = "wechatpay"

    def __init__(self) -> None:
        config: dict[str, Any] = getattr(settings, "FANSI_WECHATPAY", None) or {}
        missing = [key for key in _REQUIRED if not config.get(key)]
        if missing:
            raise ImproperlyConfigured(f"FANSI_WECHATPAY lacks {', '.join(missing)}")
        public_key_mode = bool(config.get("public_key") and config.get("public_key_id"))
        if not public_key_mode and not config.get("cert_dir"):
            raise ImproperlyConfigured("FANSI_WECHATPAY needs public_key and public_key_id, or cert_dir")
        if len(config["apiv3_key"].encode()) != 32:
            raise ImproperlyConfigured("FANSI_WECHATPAY apiv3_key must be 32 bytes (AES-256)")
        pay_type = config.get("pay_type", "native")
        if pay_type not in _PAY_TYPES:
            raise ImproperlyConfigured(f"FANSI_WECHATPAY pay_type must be one of {', '.join(_PAY_TYPES)}")
        self._pay_type = _PAY_TYPES[pay_type]
        self._payer_openid: Callable[[int], str] | None = None
        if self._pay_type == WeChatPayType.JSAPI:
            if not config.get("payer_openid"):
                raise ImproperlyConfigured("FANSI_WECHATPAY pay_type jsapi needs payer_openid")
            self._payer_openid = import_string(config["payer_openid"])
        self._mchid = str(config["mchid"])
        # Another serial makes the SDK download platform certificates: wanted only while migrating (cert_dir).
        self._only_serial = (
            config["public_key_id"] if public_key_mode and not config.get("cert_dir") else None
        )
        try:
            self._client = WeChatPay(
                wechatpay_type=self._pay_type,
                mchid=self._mchid,
                private_key=_key_text(config["private_key"]),
                cert_serial_no=config["cert_serial_no"],
                appid=config["appid"],
                apiv3_key=config["apiv3_key"],
                notify_url=config["notify_url"],
                cert_dir=config.get("cert_dir"),
                public_key=_key_text(config.get("public_key")) if public_key_mode else None,
                public_key_id=config.get("public_key_id") if public_key_mode else None,
                timeout=config.get("timeout", (5, 15)),
            )
        except Exception as exc:  # the SDK's bare Exceptions: an unreadable key, no platform certificate
            raise ImproperlyConfigured(f"FANSI_WECHATPAY: {exc}") from exc

    # --- the interface -----------------------------------------------------------------------------------

    def charge(self, request: ChargeRequest, *, wait: bool = False) -> ProviderReply:
        """Place a native (QR code) or JSAPI order. Always pending: `wait` cannot help, the payer confirms."""
        _cny(request.currency)
        payer = {"openid": self._payer_openid(request.user_id)} if self._payer_openid else None
        try:
            data = self._request(
                self._client.pay,
                description=(request.description or request.reference)[:127],
                out_trade_no=trade_no(request.reference),
                amount={"total": _fen(request.amount), "currency": "CNY"},
                attach=request.reference,
                payer=payer,
            )
        except WeChatPayDeclined:
            # A retry of an order the payer already paid is refused as a duplicate: report what moved.
            order = self._order(request.reference)
            if order is None or order.get("trade_state") not in ("SUCCESS", "REFUND"):
                raise
            return ProviderReply(
                reference=request.reference,
                status=SUCCEEDED,
                provider_id=order["transaction_id"],
                amount=_yuan(order["amount"]["total"]),
            )
        # Until the notification brings a transaction_id, the id is what the payer's client opens.
        return ProviderReply(
            reference=request.reference,
            status=PENDING,
            provider_id=data.get("prepay_id") or data.get("code_url", ""),
            amount=request.amount,
        )

    def charge_many(self, requests: list[ChargeRequest]) -> list[ProviderReply | PaymentError]:
        """One order per request: WeChat has no batch order."""
        replies: list[ProviderReply | PaymentError] = []
        for request in requests:
            try:
                replies.append(self.charge(request))
            except PaymentError as exc:
                replies.append(exc)
        return replies

    def refund(
        self, *, reference: str, charge_reference: str, amount: Decimal, currency: str
    ) -> ProviderReply:
        """Refund part or all of a paid order (queried first: WeChat wants the order's total)."""
        _cny(currency)
        order = self._order(charge_reference)
        if order is None or order.get("trade_state") not in ("SUCCESS", "REFUND"):
            raise PaymentDeclined(f"no paid WeChat Pay order for {charge_reference}")
        data = self._request(
            self._client.refund,
            out_refund_no=refund_no(reference),
            out_trade_no=trade_no(charge_reference),
            amount={"refund": _fen(amount), "total": int(order["amount"]["total"]), "currency": "CNY"},
        )
        status = _REFUND_STATUSES.get(data.get("status", ""))
        if status is None:
            raise PaymentDeclined(f"WeChat Pay refund {reference} is {data.get('status')}")
        return ProviderReply(
            reference=reference,
            status=status,
            provider_id=data["refund_id"],
            amount=_yuan(data["amount"]["refund"]),
        )

    def void(self, *, reference: str) -> None:
        """Close the order so it can no longer be paid; if the payer paid already, refund it in full.

        The refund's number is `<out_trade_no>-void`, which its REFUND.SUCCESS notification carries.
        """
        number = trade_no(reference)
        try:
            self._request(self._client.close, out_trade_no=number)
            return
        except WeChatPayDeclined:
            pass  # paid, closed and unknown orders are all refused; the query tells which
        order = self._order(reference)
        state = order and order.get("trade_state")
        if state == "USERPAYING":
            raise PaymentTimeout(f"the payer of {reference} is still paying; void again later")
        if state == "SUCCESS":
            total = int(order["amount"]["total"])
            self._request(
                self._client.refund,
                out_refund_no=f"{number}-void",
                out_trade_no=number,
                amount={"refund": total, "total": total, "currency": "CNY"},
            )

    def query(self, *, reference: str) -> str | None:
        order = self._order(reference)
        if order is None:
            return None
        return _TRADE_STATES.get(order.get("trade_state", ""), PENDING)

    def notification_parse(self, *, headers: dict[str, str], body: bytes) -> Notification:
        """Verify and decrypt with the SDK's own callback(); map payment and refund events."""
        headers = _callback_headers(headers)
        if self._only_serial and headers["Wechatpay-Serial"] != self._only_serial:
            raise BadNotification(f"unknown Wechatpay-Serial {headers['Wechatpay-Serial']!r}")
        try:
            data = self._client.callback(headers, body)
        except Exception as exc:  # the SDK's bare Exceptions, and ValueError for bad JSON or a bad serial
            raise BadNotification(f"WeChat Pay notification does not verify: {exc}") from exc
        if not data:
            raise BadNotification("WeChat Pay notification's signature or resource does not verify")
        try:
            return self._notification(data["event_type"], data["resource"])
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise BadNotification(f"WeChat Pay notification of an unexpected shape: {exc!r}") from exc

    def records(self, *, since: date | None = None, until: date | None = None) -> Iterator[ProviderRecord]:
        """Settled charges and refunds from WeChat's daily trade bills, `since` to `until` (China dates).

        By default the last 31 full days: a day's bill is ready the next morning and kept three months.
        Charges come back under our reference (from `attach`), refunds under the refund's, negative.
        """
        until = until or timezone.now().astimezone(_BILL_ZONE).date() - timedelta(days=1)
        since = since or until - timedelta(days=_RECORDS_DAYS - 1)
        day = since
        while day <= until:
            yield from self._bill_records(day)
            day += timedelta(days=1)

    # --- helpers -----------------------------------------------------------------------------------------

    def _call(self, method: Callable[..., tuple[int, Any]], **kwargs: Any) -> tuple[int, str | bytes]:
        try:
            return method(**kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise PaymentTimeout(f"WeChat Pay did not answer: {exc}") from exc
        except Exception as exc:
            if str(exc) != _SDK_BAD_ANSWER:
                raise
            raise PaymentTimeout("WeChat Pay's answer failed its signature check: outcome unknown") from exc

    def _request(self, method: Callable[..., tuple[int, Any]], **kwargs: Any) -> dict[str, Any]:
        """A verified 2xx answer's JSON. 4xx raise WeChatPayDeclined; 5xx (SYSTEM_ERROR and the like) mean
        WeChat does not know the outcome yet and asks for a retry with the same number: PaymentTimeout."""
        status, text = self._call(method, **kwargs)
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {"message": text[:200]}
        if 200 <= status < 300:
            return data
        code, message = data.get("code", ""), data.get("message", "")
        if status >= 500:
            raise PaymentTimeout(f"WeChat Pay {status} {code}: {message}")
        raise WeChatPayDeclined(status, code, message)

    def _order(self, reference: str) -> dict[str, Any] | None:
        """The order of a charge reference as WeChat sees it, None if it never saw one."""
        try:
            return self._request(self._client.query, out_trade_no=trade_no(reference))
        except WeChatPayDeclined as exc:
            if exc.status == 404 or exc.code == "ORDER_NOT_EXIST":
                return None
            raise

    def _notification(self, event_type: str, resource: dict[str, Any]) -> Notification:
        if str(resource["mchid"]) != self._mchid:
            raise ValueError(f"mchid {resource['mchid']} is not ours")
        if event_type == "TRANSACTION.SUCCESS":
            if resource["trade_state"] != "SUCCESS":
                raise ValueError(f"TRANSACTION.SUCCESS with trade_state {resource['trade_state']}")
            return Notification(
                provider_id=resource["transaction_id"],
                reference=_charge_reference(resource.get("attach", ""), resource["out_trade_no"]),
                kind="charge",
                status=SUCCEEDED,
                amount=_yuan(resource["amount"]["total"]),
                currency=resource["amount"].get("currency", "CNY"),
            )
        if event_type in _REFUND_EVENTS:
            return Notification(
                provider_id=resource["refund_id"],
                reference=resource["out_refund_no"],
                kind="refund",
                status=_REFUND_EVENTS[event_type],
                amount=_yuan(resource["amount"]["refund"]),
                currency="CNY",
            )
        raise ValueError(f"event_type {event_type}")

    def _bill_records(self, day: date) -> Iterator[ProviderRecord]:
        try:
            bill = self._request(self._client.trade_bill, bill_date=day.isoformat())
        except WeChatPayDeclined as exc:
            if exc.code == "NO_STATEMENT_EXIST":
                return  # no trade that day
            raise
        # The file itself is not signed (the SDK skips the check); the signed answer's hash vouches for it.
        status, content = self._call(self._client.download_bill, url=bill["download_url"])
        if status != 200 or not isinstance(content, bytes):
            raise PaymentError(f"WeChat Pay trade bill of {day}: download answered {status}")
        raw = gzip.decompress(content)
        if (
            bill.get("hash_type") != "SHA1"
            or hashlib.sha1(raw).hexdigest() != bill.get("hash_value", "").lower()
        ):
            raise PaymentError(
                f"WeChat Pay trade bill of {day} does not match its {bill.get('hash_type')} hash"
            )
        for row in _bill_rows(raw.decode("utf-8-sig")):
            state = row.get("交易状态", "")
            if state == "SUCCESS":
                yield ProviderRecord(
                    reference=_charge_reference(row.get("商户数据包", ""), row["商户订单号"]),
                    amount=Decimal(row["订单金额"]),
                )
            elif state == "REFUND" and row.get("退款状态") == "SUCCESS":
                yield ProviderRecord(reference=row["商户退款单号"], amount=-Decimal(row["申请退款金额"]))
