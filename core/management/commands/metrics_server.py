"""`manage.py metrics_server --port 9100`: the Prometheus endpoint, on an internal address only.

It adds up the files every ASGI process and Celery worker writes to PROMETHEUS_MULTIPROC_DIR (set the same
directory for all of them, emptied before they start; docs/metrics.md) and reads the Celery queue depth from
Redis at each scrape. The public site never serves /metrics."""

import os
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.core.management.base import BaseCommand, CommandError
from prometheus_client import make_wsgi_app

from core.metrics_server import metrics_registry


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class Command(BaseCommand):
    help = "Serve Prometheus metrics (all processes, via PROMETHEUS_MULTIPROC_DIR) on an internal port."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("FANSI_METRICS_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("FANSI_METRICS_PORT", "9100")))

    def handle(self, *args, host: str, port: int, **options):
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            self.stderr.write(
                "PROMETHEUS_MULTIPROC_DIR is not set: serving this process's metrics only (docs/metrics.md)."
            )
        elif not os.path.isdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]):
            raise CommandError(
                f"PROMETHEUS_MULTIPROC_DIR {os.environ['PROMETHEUS_MULTIPROC_DIR']} is no folder"
            )
        app = make_wsgi_app(metrics_registry())
        server = make_server(host, port, app, handler_class=QuietHandler)
        self.stdout.write(f"metrics on http://{host}:{port}/metrics", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
