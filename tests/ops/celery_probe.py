"""The project's Celery app plus the log probe task (tests/ops/test_logs.py), for a real worker in a test."""

from config.celery import app

app.conf.imports = [*(app.conf.imports or ()), "tests.ops.test_logs"]

__all__ = ["app"]
