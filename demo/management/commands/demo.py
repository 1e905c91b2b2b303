from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from config.celery import app as celery_app
from demo.data.seed import BASE_URL, demo_report_lines, demo_seed


class Command(BaseCommand):
    help = "Create demo accounts, shops, catalogues, fans and chat history (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default=BASE_URL, help="Host shown in the printed links.")

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo's stories run their background steps (closing, balances, shipments, the recommender) as it
        # tells them, in this process: with REDIS_URL set Celery would queue them for a worker that may not be
        # running, and the demo would stop half-way through its money paths.
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            result = demo_seed()
        finally:
            celery_app.conf.task_always_eager = eager
        for line in demo_report_lines(result, base_url=options["base_url"].rstrip("/")):
            self.stdout.write(line)
