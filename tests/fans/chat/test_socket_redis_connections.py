"""Open sockets do not each hold a Redis connection (issue 17's 10,000 sockets).

Django keeps a cache backend per async context, and the stock Redis backend gives each its own connection
pool, so under the deploy layout's ASGI server (deploy/bin/asgi, uvicorn) every websocket held a Redis
connection of its own: at 10,000 sockets Redis refused new clients and a broadcast reached nobody live.
Here the real server runs with the real settings; the connections its process holds to Redis are read from
/proc while 40 sockets are open, and after a broadcast-like publish every socket still receives."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from fans.chat.models import Conversation
from tests import servers as test_servers
from tests.factories import FanFactory, ShopFactory
from tests.fans.chat.test_scaleout import next_frame, open_socket, send_text

pytestmark = pytest.mark.services

SOCKETS = 40


def redis_connections(pid: int, redis_port: int) -> int:
    """TCP connections of process `pid` whose remote port is Redis's, from /proc (no extra packages)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == redis_port and fields[9] in inodes and fields[3] == "01":  # 01: ESTABLISHED
                count += 1
    return count


def test_sixty_sockets_share_the_process_redis_pool(require_services, transactional_db, tmp_path):
    from django.conf import settings

    redis_port = int(settings.REDIS_URL.rsplit(":", 1)[1].split("/", 1)[0])
    shop = ShopFactory()
    owner_token = Token.objects.create(user=shop.owner).key
    fans = [FanFactory(shop=shop) for _ in range(SOCKETS)]
    tokens = [Token.objects.create(user=f.user).key for f in fans]
    by_fan = dict(Conversation.objects.filter(fan__in=fans).values_list("fan_id", "pk"))
    conversations = [by_fan[f.pk] for f in fans]

    port = test_servers.free_port()
    env = test_servers.test_database_env()
    env["FANSI_PYTHON"] = sys.executable
    log = (tmp_path / "asgi.log").open("w")
    proc = subprocess.Popen(
        [str(test_servers.ROOT / "deploy" / "bin" / "asgi"), str(port)],
        cwd=test_servers.ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        test_servers.wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"

        async def scenario() -> tuple[int, int]:
            sockets = [await open_socket(base, t) for t in tokens]
            owner = await open_socket(base, owner_token)
            try:
                held = redis_connections(proc.pid, redis_port)
                # Every fan writes once; the owner's one socket hears all of them, through Redis.
                sent = []
                for ws, conversation in zip(sockets, conversations, strict=True):
                    sent.append(await send_text(ws, conversation, f"hi from {conversation}"))
                heard = 0
                for client_id in sent:
                    await next_frame(owner, "message.new", client_id=client_id)
                    heard += 1
                return held, heard
            finally:
                await asyncio.gather(*(ws.close() for ws in [*sockets, owner]), return_exceptions=True)

        held, heard = asyncio.run(asyncio.wait_for(scenario(), 120))
    finally:
        test_servers.stop_process(proc)
        log.close()
    assert heard == SOCKETS
    # A handful for the channel layer's subscriber and publisher and the cache pool's busy connections;
    # one per socket (61 here) was the defect.
    assert 1 <= held <= 12, f"the server process holds {held} Redis connections for {SOCKETS + 1} sockets"
