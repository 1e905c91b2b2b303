"""Echo websockets for bench/chat.py's throughput ceiling; routed only when FANSI_BENCH_ECHO is on.

`EchoConsumer` is the bare ceiling the bench reports as echo_msgs_per_s: Daphne's websocket framing and
Channels' dispatch, and nothing else. `LayerEchoConsumer` also bounces each frame through the channel
layer (Redis in the bench) to itself, which bounds what any pipeline that fans out via Redis can reach.
Neither authenticates or touches the database.
"""

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path


class EchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


class LayerEchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.send(self.channel_name, {"type": "echo.frame", "text": text_data})

    async def echo_frame(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


echo_urlpatterns = [
    path("ws/echo/", EchoConsumer.as_asgi()),
    path("ws/echo-layer/", LayerEchoConsumer.as_asgi()),
]
