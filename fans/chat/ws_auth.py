"""Websocket gate: origin check plus authentication by session cookie or `?token=`.

A browser always sends Origin, and a foreign one is refused (cross-site websocket hijacking).
A client without Origin (a native app) must authenticate by token, never by cookie.
"""

from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.utils.http import is_same_domain
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _query(scope: dict[str, Any], name: str) -> str:
    """The first `?name=` value of a websocket's URL, or ""."""
    return parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name, [""])[0]


DEFAULT_PORTS = {"http": 80, "https": 443}


def scope_is_secure(scope: dict[str, Any]) -> bool:
    """wss:, directly or behind a proxy that says so (SECURE_PROXY_SSL_HEADER, as Django trusts it for pages)."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        value = _header(scope, name)
        return value is not None and value.split(",")[0].strip() == proxy[1]
    return False


def _port(parsed: Any, scheme: str) -> int | None:
    try:
        return parsed.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None


def origin_allowed(origin: str, scope: dict[str, Any] | None = None) -> bool:
    """Origin as Django's CSRF check takes it for pages: a trusted origin, or this very site, scheme and
    port included (http://host:other, or http:// on an https site, is another origin). Without a scope, the
    host alone is checked against ALLOWED_HOSTS."""
    if origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        return True
    parsed = urlparse(origin)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    hosts = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    host = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
    if not any(pattern == "*" or is_same_domain(host, pattern) for pattern in hosts):
        return False
    if scope is None:
        return True
    scheme = "https" if scope_is_secure(scope) else "http"
    if parsed.scheme != scheme or _port(parsed, scheme) is None:
        return False
    host_header = _header(scope, b"host")
    if not host_header:
        # Every real server sends Host; only in-process test communicators go without.
        return True
    site = urlparse(f"//{host_header}")
    return parsed.hostname == site.hostname and _port(parsed, scheme) == _port(site, scheme)


def scope_language(scope: dict[str, Any]) -> str:
    """The language of a socket, chosen as LocaleMiddleware chooses it for a page: `?lang=`, then the
    language cookie (the switch on every page sets it), then Accept-Language, then LANGUAGE_CODE."""
    candidates = [code] if (code := _query(scope, "lang")) else []
    cookie = parse_cookie(_header(scope, b"cookie") or "").get(settings.LANGUAGE_COOKIE_NAME)
    if cookie:
        candidates.append(cookie)
    accept = _header(scope, b"accept-language") or ""
    candidates += [code for code, _q in parse_accept_lang_header(accept) if code != "*"]
    for code in candidates:
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def scope_token(scope: dict[str, Any]) -> str:
    """The `?token=` of a websocket's URL, or ""."""
    return _query(scope, "token")


@database_sync_to_async
def user_from_token(key: str):
    """The API's token check (shops.authentication), for a socket: an anonymous user where it refuses."""
    from rest_framework.exceptions import AuthenticationFailed

    from shops.authentication import PlainTokenAuthentication

    try:
        user, _token = PlainTokenAuthentication().authenticate_credentials(key)
    except AuthenticationFailed:
        return AnonymousUser()
    return user


class OriginAndAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        origin = _header(scope, b"origin")
        token = scope_token(scope)
        if origin is not None and not origin_allowed(origin, scope):
            return await WebsocketDenier.as_asgi()(scope, receive, send)
        if token:
            scope["user"] = await user_from_token(token)
        elif origin is None:
            # Cookies without Origin could come from anywhere; demand a token instead.
            scope["user"] = AnonymousUser()
        else:
            scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)


class SessionUnlessToken:
    """The session only for sockets without ?token= (a token wins over a cookie in OriginAndAuthMiddleware):
    Channels' session wrapper inspects the session on every frame a socket is sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.with_session = CookieMiddleware(SessionMiddleware(inner))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope_token(scope):
            return await self.inner(scope, receive, send)
        return await self.with_session(scope, receive, send)
