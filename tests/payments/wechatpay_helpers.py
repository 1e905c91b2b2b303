"""A fake WeChat on the wire for the WeChat Pay adapter's tests: a platform key pair, answers and
notifications signed and sealed the way WeChat does them, and the settings naming them
(tests/payments/test_wechatpay*.py; the fixtures are in conftest.py)."""

import base64
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from requests.structures import CaseInsensitiveDict

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
APIV3_KEY = "0123456789abcdef0123456789ABCDEF"
NOTIFY_URL = "https://fansi.example/payments/wechat/notify"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"


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
