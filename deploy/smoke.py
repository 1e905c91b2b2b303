"""A deployment smoke test through the public site only (nginx): what an operator runs after a deploy.

    python deploy/smoke.py https://shop.example.com --owner owner:PASSWORD --fan fan1:PASSWORD
    python deploy/smoke.py https://127.0.0.1:8443 --cafile var/tls/cert.pem --owner ... --fan ...

It checks, in order: /healthz and /readyz (database, redis, celery), /metrics not public, the login form and
the token login for both users, owner and fan exchanging messages over wss:// (on two different ASGI
processes where nginx says which answered, X-Fansi-Upstream), a pledge on a live campaign of the owner's shop
(cancelled again), and a broadcast from the owner that reaches the fan's socket through the Celery worker.
The fan must follow the owner's shop. Prints one JSON report; exits 1 when a step fails.
"""

import argparse
import asyncio
import http.cookiejar
import json
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import websockets


class Failure(Exception):
    pass


class Site:
    def __init__(self, base: str, context: ssl.SSLContext | None) -> None:
        self.base = base.rstrip("/")
        self.context = context

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str = "",
        body: Any = None,
        headers: dict | None = None,
        opener=None,
    ) -> tuple[int, dict[str, str], bytes]:
        data = None
        head = {"Accept": "application/json", **(headers or {})}
        if token:
            head["Authorization"] = f"Token {token}"
        if isinstance(body, dict) and "Content-Type" not in head:
            data, head["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif body is not None:
            data = body
        req = urllib.request.Request(self.base + path, data=data, headers=head, method=method)
        try:
            if opener is not None:
                response = opener.open(req, timeout=30)
            else:
                response = urllib.request.urlopen(req, timeout=30, context=self.context)
            with response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, method: str, path: str, expect: int | tuple = 200, **kw) -> Any:
        status, _headers, raw = self.request(method, path, **kw)
        wanted = expect if isinstance(expect, tuple) else (expect,)
        if status not in wanted:
            raise Failure(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def ws_url(self, token: str) -> str:
        parsed = urllib.parse.urlparse(self.base)
        scheme = "wss" if parsed.scheme == "https" else "ws"
        return f"{scheme}://{parsed.netloc}/ws/chat/?token={urllib.parse.quote(token)}"


def login_form(site: Site, username: str, password: str) -> None:
    """The HTML login form, as a browser posts it (CSRF cookie and token, Referer), behind the proxy."""
    jar = http.cookiejar.CookieJar()
    handlers = [urllib.request.HTTPCookieProcessor(jar), urllib.request.HTTPSHandler(context=site.context)]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(*handlers, NoRedirect)
    status, _h, page = site.request("GET", "/login/", opener=opener, headers={"Accept": "text/html"})
    if status != 200:
        raise Failure(f"GET /login/: {status}")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise Failure("the login form has no CSRF token")
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": match.group(1).decode(), "username": username, "password": password}
    ).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"{site.base}/login/",
        "Origin": site.base,
        "Accept": "text/html",
    }
    status, head, _body = site.request("POST", "/login/", body=form, headers=headers, opener=opener)
    location = head.get("Location") or head.get("location") or ""
    if status != 302 or "/login/" in location:
        raise Failure(f"POST /login/ did not sign {username} in: {status} -> {location!r}")


async def open_socket(site: Site, token: str) -> tuple[Any, str]:
    ws = await websockets.connect(
        site.ws_url(token), ssl=site.context, origin=site.base, open_timeout=15, max_size=2**22
    )
    hello = json.loads(await asyncio.wait_for(ws.recv(), 15))
    if hello.get("type") != "hello":
        raise Failure(f"no hello on the socket: {hello}")
    upstream = ws.response.headers.get("X-Fansi-Upstream", "")
    return ws, upstream


async def expect_frame(ws: Any, match, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure("timed out waiting for a frame")
        frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        if match(frame):
            return frame


async def chat_exchange(
    site: Site, owner_token: str, fan_token: str, conversation: int, distinct: bool
) -> dict:
    owner_ws, owner_up = await open_socket(site, owner_token)
    fan_ws, fan_up = await open_socket(site, fan_token)
    tries = 1
    # nginx spreads connections over the processes; reconnect until the two sides are on different ones.
    while owner_up and fan_up == owner_up and tries < 12:
        await fan_ws.close()
        fan_ws, fan_up = await open_socket(site, fan_token)
        tries += 1
    if distinct and (not owner_up or owner_up == fan_up):
        raise Failure(f"the sockets did not land on two processes: owner {owner_up!r}, fan {fan_up!r}")
    try:
        client_id = str(uuid.uuid4())
        text = f"smoke from the fan {client_id[:8]}"
        await fan_ws.send(
            json.dumps(
                {
                    "type": "message.send",
                    "conversation": conversation,
                    "client_id": client_id,
                    "kind": "text",
                    "text": text,
                }
            )
        )
        ack = await expect_frame(
            fan_ws, lambda f: f.get("type") == "message.ack" and f.get("client_id") == client_id
        )
        if ack.get("type") == "error":
            raise Failure(f"fan send refused: {ack}")
        mid = ack["message"]["id"]
        await expect_frame(owner_ws, lambda f: f.get("type") == "message.new" and f["message"]["id"] == mid)
        reply_id = str(uuid.uuid4())
        await owner_ws.send(
            json.dumps(
                {
                    "type": "message.send",
                    "conversation": conversation,
                    "client_id": reply_id,
                    "kind": "text",
                    "text": "smoke reply",
                }
            )
        )
        reply = await expect_frame(
            owner_ws, lambda f: f.get("client_id") == reply_id and f.get("type") in ("message.ack", "error")
        )
        if reply["type"] == "error":
            raise Failure(f"owner reply refused: {reply}")
        await expect_frame(
            fan_ws, lambda f: f.get("type") == "message.new" and f["message"]["id"] == reply["message"]["id"]
        )
        return {"owner_upstream": owner_up, "fan_upstream": fan_up, "fan_connects": tries, "fan_ws": fan_ws}
    except BaseException:
        await fan_ws.close()
        raise
    finally:
        await owner_ws.close()


def pledge_once(site: Site, owner_token: str, fan_token: str, shop: int) -> dict:
    campaigns = site.json("GET", "/api/campaigns/", token=fan_token)
    live = [c for c in campaigns if c.get("status") == "live" and c.get("shop") in (shop, None)]
    if not live:
        raise Failure("the fan sees no live campaign of the owner's shop to pledge to")
    campaign = live[0]
    product = site.json("GET", f"/api/products/{campaign['product']}/", token=owner_token)
    variant = product["variants"][0]["id"]
    key = f"smoke-{uuid.uuid4()}"
    pledge = site.json(
        "POST", f"/api/campaigns/{campaign['id']}/pledges/", expect=201, token=fan_token,
        body={"variant": variant, "quantity": 1}, headers={"Idempotency-Key": key},
    )  # fmt: skip
    site.json("POST", f"/api/pledges/{pledge['id']}/cancel/", token=fan_token, body={"reason": "smoke test"})
    return {"campaign": campaign["id"], "pledge": pledge["id"], "status": pledge["status"]}


async def broadcast_once(site: Site, owner_token: str, fan_ws: Any, shop: int, fan_id: int) -> dict:
    text = f"smoke broadcast {uuid.uuid4().hex[:8]}"
    body = {"kind": "text", "text": text, "promotional": False, "fan_ids": [fan_id], "shop": shop}
    created = site.json("POST", "/api/broadcasts/", expect=201, token=owner_token, body=body)
    started = time.monotonic()
    # Sent by the Celery worker, delivered live through the channel layer.
    await expect_frame(
        fan_ws, lambda f: f.get("type") == "message.new" and f["message"].get("text") == text, 60
    )
    return {"broadcast": created["id"], "delivered_s": round(time.monotonic() - started, 2)}


def health(site: Site) -> dict:
    status, _h, _b = site.request("GET", "/healthz")
    if status != 200:
        raise Failure(f"/healthz answered {status}")
    ready = site.json("GET", "/readyz")
    names = sorted(ready.get("checks", {}))
    if not {"database", "redis", "celery"} <= set(names) or ready.get("status") != "ok":
        raise Failure(f"/readyz: {ready}")
    metrics, _h, _b = site.request("GET", "/metrics")
    if metrics not in (403, 404):
        raise Failure(f"/metrics is public: {metrics}")
    return {"readyz": names, "metrics_public": False}


def run(base: str, owner: tuple[str, str], fan: tuple[str, str], *, cafile: str = "", insecure: bool = False,
        distinct: bool = False, pledge: bool = True) -> dict:  # fmt: skip
    context = None
    if base.startswith("https"):
        context = ssl.create_default_context(cafile=cafile or None)
        if insecure:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    site = Site(base, context)
    report: dict[str, Any] = {"site": base, "steps": {}}
    report["steps"]["health"] = health(site)
    login_form(site, *owner)
    owner_token = site.json("POST", "/api/auth/token/", body={"username": owner[0], "password": owner[1]})[
        "token"
    ]
    fan_token = site.json("POST", "/api/auth/token/", body={"username": fan[0], "password": fan[1]})["token"]
    report["steps"]["login"] = {"form": True, "tokens": 2}
    mine = site.json("GET", "/api/conversations/", token=fan_token)["results"]
    staff = {
        c["id"]: c for c in site.json("GET", "/api/conversations/?limit=200", token=owner_token)["results"]
    }
    shared = [c for c in mine if c["id"] in staff]
    if not shared:
        raise Failure("the fan has no conversation with the owner's shop (the fan must follow it)")
    conversation = staff[shared[0]["id"]]

    async def sockets() -> None:
        chat = await chat_exchange(site, owner_token, fan_token, conversation["id"], distinct)
        fan_ws = chat.pop("fan_ws")
        report["steps"]["chat"] = chat
        try:
            if pledge:
                report["steps"]["pledge"] = pledge_once(site, owner_token, fan_token, conversation["shop"])
            report["steps"]["broadcast"] = await broadcast_once(
                site, owner_token, fan_ws, conversation["shop"], conversation["fan"]
            )
        finally:
            await fan_ws.close()

    asyncio.run(sockets())
    report["ok"] = True
    return report


def credentials(value: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("USER:PASSWORD")
    return user, password


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", help="the public site, e.g. https://127.0.0.1:8443")
    parser.add_argument("--owner", type=credentials, required=True, help="USER:PASSWORD of a shop owner")
    parser.add_argument("--fan", type=credentials, required=True, help="USER:PASSWORD of a fan of that shop")
    parser.add_argument("--cafile", default="", help="trust this certificate (e.g. var/tls/cert.pem)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    parser.add_argument("--require-distinct-upstreams", action="store_true")
    parser.add_argument("--no-pledge", action="store_true", help="skip the pledge (no live campaign)")
    args = parser.parse_args(argv)
    try:
        report = run(
            args.base, args.owner, args.fan, cafile=args.cafile, insecure=args.insecure,
            distinct=args.require_distinct_upstreams, pledge=not args.no_pledge,
        )  # fmt: skip
    except (Failure, OSError, TimeoutError, websockets.WebSocketException) as err:
        print(json.dumps({"ok": False, "error": f"{type(err).__name__}: {err}"}))
        return 1
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
