"""The websocket Origin check honours scheme and port (issue 17): only this very site, as Django's CSRF check
takes it for pages, or a CSRF_TRUSTED_ORIGINS entry."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def opens(user, origin: str, host: str = "127.0.0.1:8400", extra=()) -> bool:
    key = await sync_to_async(lambda: Token.objects.get_or_create(user=user)[0].key)()
    headers = [(b"origin", origin.encode()), (b"host", host.encode()), *extra]
    comm = WebsocketCommunicator(application, f"/ws/chat/?token={key}", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    if connected:
        await comm.disconnect()
    return connected


async def test_same_scheme_host_and_port_is_allowed(fan_user):
    assert await opens(fan_user, "http://127.0.0.1:8400")


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:8401",
        "https://127.0.0.1:8400",
        "http://127.0.0.1",
        "http://localhost:8400",
        "ftp://127.0.0.1:8400",
    ],
)
async def test_another_port_scheme_or_host_is_refused(fan_user, origin):
    assert not await opens(fan_user, origin)


async def test_default_ports_are_the_same_origin(fan_user):
    assert await opens(fan_user, "http://127.0.0.1", host="127.0.0.1:80")


async def test_behind_the_tls_proxy_only_https_is_the_site(fan_user, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]
    assert await opens(fan_user, "https://127.0.0.1:8443", host="127.0.0.1:8443", extra=proxied)
    assert not await opens(fan_user, "http://127.0.0.1:8443", host="127.0.0.1:8443", extra=proxied)


async def test_a_trusted_origin_is_allowed(fan_user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.fansi.example"]
    assert await opens(fan_user, "https://app.fansi.example")
