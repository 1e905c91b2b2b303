"""Bounded PostgreSQL connections (issue 17): a Daphne process holds at most FANSI_DB_POOL_MAX connections
through 30 concurrent requests and websocket sign-ins (Django 5.2's psycopg pool), and answers them all."""

import asyncio
import json
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from tests import servers
from tests.conftest import REQUIRE_SERVICES, is_postgresql
from tests.factories import FanFactory, ShopFactory
from tests.servers import daphne_server

POOL_MAX = 4


def held(app_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [app_name],
        )
        return cursor.fetchone()[0]


def test_one_process_holds_at_most_the_pool_through_a_burst(require_services, transactional_db):
    if not is_postgresql(connection):
        # Outside CI only (no DATABASE_URL); CI sets FANSI_REQUIRE_SERVICES=1 and runs on PostgreSQL.
        if REQUIRE_SERVICES:
            pytest.fail("FANSI_REQUIRE_SERVICES=1 but the database is not PostgreSQL")
        pytest.skip("the pool is PostgreSQL's")
    fans = [FanFactory(shop=ShopFactory()) for _ in range(3)]
    tokens = [Token.objects.create(user=f.user).key for f in fans]
    app_name = f"fansi-pool-{uuid.uuid4().hex[:8]}"
    # libpq names every connection the child opens (PGAPPNAME), so pg_stat_activity can count them.
    env = servers.test_database_env() | {"FANSI_DB_POOL_MAX": str(POOL_MAX), "PGAPPNAME": app_name}
    with daphne_server(env=env) as base:

        def call(i: int) -> tuple[int, int]:
            request = urllib.request.Request(
                f"{base}/api/conversations/", headers={"Authorization": f"Token {tokens[i % len(tokens)]}"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, len(json.loads(response.read())["results"])

        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(pool.map(call, range(30)))
        assert answers == [(200, 1)] * 30
        during = held(app_name)

        async def sockets() -> list[str]:
            ws_base = base.replace("http://", "ws://")

            async def hello(key: str) -> str:
                async with connect(f"{ws_base}/ws/chat/?token={key}", open_timeout=30) as ws:
                    return json.loads(await asyncio.wait_for(ws.recv(), 30))["type"]

            return await asyncio.gather(*(hello(tokens[i % len(tokens)]) for i in range(12)))

        assert asyncio.run(sockets()) == ["hello"] * 12
        after = held(app_name)
    assert 0 < during <= POOL_MAX, during
    assert 0 < after <= POOL_MAX, after
