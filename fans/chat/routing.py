from django.conf import settings
from django.urls import path

from fans.chat.consumers import ChatConsumer

websocket_urlpatterns = [path("ws/chat/", ChatConsumer.as_asgi())]

if settings.FANSI_BENCH_ECHO:
    from bench.echo_consumer import EchoConsumer, LayerEchoConsumer

    # The bench's ceiling (bench/chat.py); never routed in a normal deployment.
    websocket_urlpatterns += [
        path("ws/echo/", EchoConsumer.as_asgi()),
        path("ws/echo-layer/", LayerEchoConsumer.as_asgi()),
    ]
