from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.data.seed import BASE_URL, demo_report_lines, demo_seed


class Command(BaseCommand):
    help = "Create demo accounts, shops, catalogues, fans and chat history (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default=BASE_URL, help="Host shown in the printed links.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed()
        for line in demo_report_lines(result, base_url=options["base_url"].rstrip("/")):
            self.stdout.write(line)
