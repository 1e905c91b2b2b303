"""A push service on 127.0.0.1 for tests and benches: it checks each push as a browser's push service would.

It verifies the VAPID JWT (ES256, with the site's public key; audience and expiry) and DECRYPTS the body
(aes128gcm, RFC 8291) with the private key and auth secret of the subscription the test made, like the
browser would. Paths ending in /gone answer 410 (the subscription expired).
"""

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class DeviceKeys:
    """What a browser keeps for one subscription: the ECDH private key and the auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def keys(self) -> dict[str, str]:
        return {"p256dh": self.p256dh, "auth": b64url(self.auth)}


def vapid_verify(authorization: str, *, public_key_b64: str, audience: str) -> dict[str, Any]:
    """The claims of a `vapid t=<jwt>, k=<key>` header, after checking the ES256 signature; raises if bad."""
    scheme, _sep, params = authorization.partition(" ")
    assert scheme.lower() == "vapid", authorization
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key_b64.rstrip("="), "the push carries another public key"
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "ES256", header
    raw = b64url_decode(signature_b64)
    assert len(raw) == 64
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key_b64))
    key.verify(
        signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256())
    )  # raises if forged
    claims = json.loads(b64url_decode(claims_b64))
    assert claims["aud"] == audience, claims
    assert claims["exp"] > time.time(), claims
    assert claims["sub"].startswith(("mailto:", "https:")), claims
    return claims


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    payload: dict[str, Any] | None
    claims: dict[str, Any] | None
    error: str = ""


class PushServer:
    """Start with `with PushServer(public_key) as server:`; `server.url(name)` is an endpoint, and
    `server.device(name)` the keys the test registers for it."""

    def __init__(self, public_key_b64: str, *, decrypt: bool = True) -> None:
        self.public_key_b64 = public_key_b64
        self.decrypt = decrypt
        self.devices: dict[str, DeviceKeys] = {}
        self.received: list[Received] = []
        self.count = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gone = self.path.endswith("/gone")
                server._record(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(410 if gone else 201)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def device(self, name: str) -> DeviceKeys:
        return self.devices.setdefault(name.split("/")[0], DeviceKeys())

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        name = path.removeprefix("/push/").split("/")[0]
        payload = claims = None
        error = ""
        try:
            claims = vapid_verify(
                headers.get("authorization", ""), public_key_b64=self.public_key_b64, audience=self.origin
            )
            if self.decrypt:
                device = self.devices[name]
                assert headers.get("content-encoding") == "aes128gcm", headers
                clear = http_ece.decrypt(
                    body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm"
                )
                payload = json.loads(clear)
        except Exception as exc:  # recorded for the test to fail on, with the reason
            error = repr(exc)
        with self._arrived:
            self.count += 1
            if self.decrypt or error:
                self.received.append(Received(path, headers, payload, claims, error))
            self._arrived.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self.count < n and time.monotonic() < deadline:
                self._arrived.wait(deadline - time.monotonic())
            return list(self.received)

    def __enter__(self) -> "PushServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
