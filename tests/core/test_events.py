"""Publishing from sync code outside the ASGI server (WSGI workers, Celery) reuses one event loop per process."""

import asyncio
import json

from channels.layers import get_channel_layer

from core import events


def test_sync_publishes_outside_the_server_share_one_loop_and_arrive(require_services) -> None:
    layer = get_channel_layer()
    loops = []

    def publish(n: int) -> None:
        events.publish([events.user_group(987654)], {"type": "test.ping", "n": n})
        loops.append(events._publisher.loop)

    async def scenario() -> list[dict]:
        channel = await layer.new_channel()
        await layer.group_add(events.user_group(987654), channel)
        try:
            await asyncio.to_thread(publish, 1)  # a plain thread, as in a WSGI or Celery worker
            await asyncio.to_thread(publish, 2)
            return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]
        finally:
            await layer.group_discard(events.user_group(987654), channel)

    received = asyncio.run(scenario())
    assert [json.loads(e["frame"])["n"] for e in received] == [1, 2]
    assert loops[0] is loops[1] and loops[0].is_running()
