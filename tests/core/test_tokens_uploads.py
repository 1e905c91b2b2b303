"""Expiring API tokens and their rotation, the upload cap and image bombs (issue 17), through the real URLs."""

import datetime as dt
import io
import struct
import uuid
import zlib

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.asgi import application
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def obtain(user) -> dict:
    resp = APIClient().post(
        "/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert resp.status_code == 200, resp.content
    return resp.json()


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_tokens_carry_their_expiry_and_stop_working_after_it(fan_user, settings):
    body = obtain(fan_user)
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=settings.FANSI_TOKEN_TTL_DAYS - 1) < expires - timezone.now()
    assert with_token(body["token"]).get("/api/conversations/").status_code == 200
    Token.objects.filter(key=body["token"]).update(
        created=timezone.now() - dt.timedelta(days=settings.FANSI_TOKEN_TTL_DAYS, seconds=1)
    )
    refused = with_token(body["token"]).get("/api/conversations/")
    assert refused.status_code == 401 and refused.json()["code"] == "token_expired"
    # Signing in again answers a new token in place of the expired one.
    again = obtain(fan_user)
    assert again["token"] != body["token"]
    assert with_token(again["token"]).get("/api/conversations/").status_code == 200
    assert Token.objects.filter(user=fan_user).count() == 1


def test_signing_in_twice_answers_the_same_live_token(fan_user):
    assert obtain(fan_user)["token"] == obtain(fan_user)["token"]


def test_rotation_answers_a_new_token_and_the_old_one_stops(fan_user):
    old = obtain(fan_user)["token"]
    resp = with_token(old).post("/api/auth/token/rotate/")
    assert resp.status_code == 200
    new = resp.json()["token"]
    assert new != old and resp.json()["expires_at"]
    assert with_token(old).get("/api/conversations/").status_code == 401
    assert with_token(new).get("/api/conversations/").status_code == 200
    assert APIClient().post("/api/auth/token/rotate/").status_code == 401


@pytest.mark.django_db(transaction=True)
async def test_an_expired_token_cannot_open_a_websocket(fan_user, settings):
    token = await sync_to_async(lambda: Token.objects.create(user=fan_user))()
    live = WebsocketCommunicator(application, f"/ws/chat/?token={token.key}")
    assert (await live.connect(timeout=5))[0]
    assert (await live.receive_json_from(timeout=5))["type"] == "hello"
    await live.disconnect()
    await sync_to_async(
        lambda: Token.objects.filter(pk=token.pk).update(
            created=timezone.now() - dt.timedelta(days=settings.FANSI_TOKEN_TTL_DAYS + 1)
        )
    )()
    expired = WebsocketCommunicator(application, f"/ws/chat/?token={token.key}")
    await expired.connect(timeout=5)
    assert (await expired.receive_output(timeout=5))["code"] == 4401


def test_a_body_over_the_cap_is_413_with_a_code(api_for, fan_user, conversation, settings):
    settings.FANSI_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.png", b"\0" * (1024 * 1024 + 10), content_type="image/png")
    resp = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "image", "image": big},
        format="multipart",
    )
    assert resp.status_code == 413 and resp.json()["code"] == "upload_too_large"
    page = APIClient().post("/login/", {"username": "x", "password": "y" * (1024 * 1024 + 10)})
    assert page.status_code == 413


def test_the_default_cap_is_20_mb(settings):
    assert settings.FANSI_MAX_UPLOAD_MB == 20 and settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 20 * 1024 * 1024


def png_header_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with next to no data (Pillow refuses it on open)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_an_image_bomb_is_too_large_not_unsupported(api_for, fan_user, owner, conversation):
    bomb = png_header_bomb(40000, 40000)  # 1.6 gigapixels: over Pillow's own bomb limit
    resp = api_for(fan_user).post(
        f"/api/conversations/{conversation.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "kind": "image", "image": SimpleUploadedFile("b.png", bomb)},
        format="multipart",
    )
    assert resp.status_code == 400 and resp.json()["code"] == "image_too_large"
    from core.errors import Invalid
    from shops.images import picture_clean

    with pytest.raises(Invalid) as caught:
        picture_clean(SimpleUploadedFile("b.png", bomb))
    assert caught.value.code == "image_too_large"
    assert io.BytesIO(bomb).getbuffer().nbytes < 1000
