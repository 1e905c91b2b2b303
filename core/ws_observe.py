"""Websockets, observed: a connection id on every log line of the connection (core.logs), a log line when it
opens and closes (path only: the ?token= query string is never logged), and the open-connections gauge
(core.metrics). ASGI middleware around the websocket router, so chat's consumer needs no code for it."""

import logging
import time
import uuid
from typing import Any

from core import metrics
from core.logs import connection_id_var

logger = logging.getLogger("fansi.websocket")


class WebsocketObserved:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        connection_id = uuid.uuid4().hex[:16]
        token = connection_id_var.set(connection_id)
        scope["fansi_connection_id"] = connection_id
        accepted = False
        started = time.monotonic()

        async def observed_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                metrics.websocket_opened()
                logger.info("websocket open %s", scope.get("path"))
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if accepted:
                metrics.websocket_closed()
                logger.info("websocket closed %s after %.1f s", scope.get("path"), time.monotonic() - started)
            connection_id_var.reset(token)
