"""bench/preorders.py's servers: Django's own WSGI server code with a fixed pool of worker threads, idle
keep-alive connections waiting in a selector (started as `python bench/preorders.py --serve PORT`). This
module is also their ROOT_URLCONF (shops + preorders API)."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def __getattr__(name: str) -> Any:
    """The servers' ROOT_URLCONF, built lazily (PEP 562) so importing this module needs no settings."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import include, path

    return [path("api/", include("shops.api_urls")), path("api/", include("preorders.api_urls"))]


# --- server mode -------------------------------------------------------------------------------------


def serve(port: int, workers: int) -> None:
    os.chdir(ROOT)
    import selectors
    import socket
    import socketserver

    import django
    from django.conf import settings

    django.setup()
    settings.ROOT_URLCONF = "bench.preorders_server"
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.wsgi import get_wsgi_application

    class OneRequestHandler(WSGIRequestHandler):
        """Answers one request; the server decides whether the socket goes back to wait for the next."""

        def handle(self) -> None:
            self.close_connection = True
            self.handle_one_request()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    # ThreadingMixIn only so Django's ServerHandler allows keep-alive; requests run on the fixed pool below.
    class KeepAliveWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
        """A fixed pool of --workers threads (one DB connection each) and a selector for idle connections.

        A keep-alive socket waits in the selector, not in a worker: a worker takes a socket only when a
        request has arrived on it and hands it back after answering, so 200 client connections share a few
        workers. Clients must not pipeline (the bench client sends one request, then reads the answer).
        """

        request_queue_size = 4096
        daemon_threads = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.pool = ThreadPoolExecutor(max_workers=workers)
            self.selector = selectors.DefaultSelector()

        def serve_forever(self, poll_interval: float = 0.5) -> None:
            self.socket.setblocking(False)
            self.selector.register(self.socket, selectors.EVENT_READ, None)
            while True:
                for key, _events in self.selector.select():
                    if key.data is None:
                        try:
                            conn, address = self.socket.accept()
                        except BlockingIOError:
                            continue
                        conn.setblocking(True)
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        self.selector.register(conn, selectors.EVENT_READ, address)
                    else:
                        self.selector.unregister(key.fileobj)
                        self.pool.submit(self._work, key.fileobj, key.data)

        def _work(self, conn: socket.socket, address: Any) -> None:
            handler = None
            try:
                handler = OneRequestHandler(conn, address, self)
            except Exception:  # noqa: BLE001
                self.handle_error(conn, address)
            if handler is not None and not handler.close_connection:
                self.selector.register(conn, selectors.EVENT_READ, address)
            else:
                self.shutdown_request(conn)

    server = KeepAliveWSGIServer(("127.0.0.1", port), OneRequestHandler, ipv6=False)
    server.set_app(get_wsgi_application())
    server.serve_forever()
