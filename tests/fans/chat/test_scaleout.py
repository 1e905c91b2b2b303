"""Two real Daphne processes share PostgreSQL and the Redis channel layer: a message sent through one
server reaches the other side's socket on the other server, resends are idempotent across servers, and a
client that was away catches up by `sync`."""

import asyncio
import json
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import ClientConnection, connect

from fans.chat.models import Message
from tests import servers as test_servers
from tests.factories import FanFactory, ShopFactory, UserFactory

pytestmark = pytest.mark.services

FRAME_TIMEOUT_S = 10.0
SCENARIO_TIMEOUT_S = 60.0
T = TypeVar("T")


def ws_url(base: str, token: str) -> str:
    return base.replace("http://", "ws://", 1) + f"/ws/chat/?token={token}"


async def open_socket(base: str, token: str) -> ClientConnection:
    ws = await connect(ws_url(base, token), open_timeout=FRAME_TIMEOUT_S, close_timeout=2)
    hello = await next_frame(ws, "hello")
    assert hello["user"] > 0
    return ws


async def next_frame(ws: ClientConnection, frame_type: str, **match: Any) -> dict[str, Any]:
    """The next frame of `frame_type` whose message fields match; others (e.g. own echoes) are skipped."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FRAME_TIMEOUT_S
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {frame_type} frame matching {match} within {FRAME_TIMEOUT_S}s")
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if frame["type"] == "error":
            raise AssertionError(f"server error while waiting for {frame_type}: {frame}")
        if frame["type"] != frame_type:
            continue
        fields = frame.get("message", frame)
        if all(fields.get(k) == v for k, v in match.items()):
            return frame


async def send_text(
    ws: ClientConnection, conversation_id: int, text: str, client_id: str | None = None
) -> str:
    client_id = client_id or str(uuid.uuid4())
    frame = {
        "type": "message.send",
        "conversation": conversation_id,
        "client_id": client_id,
        "kind": "text",
        "text": text,
    }
    await ws.send(json.dumps(frame))
    return client_id


async def in_thread(func: Callable[[], T]) -> T:
    """Run an ORM call off the event loop, closing the thread's connection so the test DB can be dropped."""

    def run() -> T:
        try:
            return func()
        finally:
            connection.close()

    return await asyncio.to_thread(run)


async def scenario(
    server_a: str, server_b: str, fan_token: str, owner_token: str, conversation_id: int
) -> None:
    fan_ws = await open_socket(server_a, fan_token)
    owner_ws = await open_socket(server_b, owner_token)
    try:
        # Fan on A -> owner on B.
        cid = await send_text(fan_ws, conversation_id, "你好, from A")
        ack = await next_frame(fan_ws, "message.ack", client_id=cid)
        delivered = await next_frame(owner_ws, "message.new", client_id=cid)
        assert delivered["message"]["id"] == ack["message"]["id"]
        assert delivered["message"]["text"] == "你好, from A"
        assert ack["message"]["seq"] == 1

        # Owner on B -> fan on A.
        reply_cid = await send_text(owner_ws, conversation_id, "Hi, from B")
        reply_ack = await next_frame(owner_ws, "message.ack", client_id=reply_cid)
        reply = await next_frame(fan_ws, "message.new", client_id=reply_cid)
        assert reply["message"]["id"] == reply_ack["message"]["id"]
        assert reply["message"]["seq"] == 2

        # The fan resends its first client_id through the other server: same message, nothing new stored.
        fan_ws_b = await open_socket(server_b, fan_token)
        try:
            await send_text(fan_ws_b, conversation_id, "你好, from A", client_id=cid)
            resend_ack = await next_frame(fan_ws_b, "message.ack", client_id=cid)
        finally:
            await fan_ws_b.close()
        assert resend_ack["message"]["id"] == ack["message"]["id"]
        assert resend_ack["message"]["seq"] == 1
        stored = await in_thread(lambda: Message.objects.filter(conversation_id=conversation_id).count())
        assert stored == 2

        # The owner goes away; the fan keeps writing; the owner reconnects (to A this time) and syncs.
        last_seen = reply["message"]["seq"]
        await owner_ws.close()
        missed = []
        for n in range(3):
            missed_cid = await send_text(fan_ws, conversation_id, f"missed {n}")
            missed.append((await next_frame(fan_ws, "message.ack", client_id=missed_cid))["message"])
        owner_ws = await open_socket(server_a, owner_token)
        await owner_ws.send(
            json.dumps({"type": "sync", "conversation": conversation_id, "after_seq": last_seen})
        )
        result = await next_frame(owner_ws, "sync.result")
        assert [m["id"] for m in result["messages"]] == [m["id"] for m in missed]
        assert [m["seq"] for m in result["messages"]] == [3, 4, 5]
        assert [m["text"] for m in result["messages"]] == ["missed 0", "missed 1", "missed 2"]
        assert result["has_more"] is False
        assert result["last_seq"] == 5
    finally:
        await fan_ws.close()
        await owner_ws.close()


def test_messages_cross_between_two_server_processes(require_services, transactional_db) -> None:
    shop = ShopFactory()
    fan = FanFactory(shop=shop, user=UserFactory(username="scaleout-fan"))
    fan_token = Token.objects.create(user=fan.user).key
    owner_token = Token.objects.create(user=shop.owner).key
    conversation_id = fan.conversation.pk

    with ExitStack() as servers:
        server_a = servers.enter_context(test_servers.daphne_server(test_servers.test_database_env()))
        server_b = servers.enter_context(test_servers.daphne_server(test_servers.test_database_env()))
        assert server_a != server_b
        asyncio.run(
            asyncio.wait_for(
                scenario(server_a, server_b, fan_token, owner_token, conversation_id), SCENARIO_TIMEOUT_S
            )
        )

    assert Message.objects.filter(conversation_id=conversation_id).count() == 5
    assert (
        Message.objects.filter(conversation_id=conversation_id, client_id__isnull=False)
        .values("client_id")
        .distinct()
        .count()
        == 5
    )
