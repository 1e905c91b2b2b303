import logging
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.scheduler import TICK_S, InProcessBeat


class Command(BaseCommand):
    help = (
        "Serve HTTP and websockets with Daphne, and run the timed jobs (deadlines, balance windows, scheduled "
        "sends) with an in-process scheduler. Ctrl-C stops both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--tick", type=float, default=TICK_S, help="Seconds between scheduler rounds.")

    def handle(self, *args: Any, **options: Any) -> None:
        from daphne.cli import CommandLineInterface

        logging.getLogger("demo.scheduler").setLevel(logging.INFO)
        stop = threading.Event()
        clock = threading.Thread(
            target=InProcessBeat().run,
            args=(stop,),
            kwargs={"every_s": options["tick"]},
            name="demo-scheduler",
            daemon=True,
        )
        clock.start()
        self.stdout.write("Timed jobs run in this process (demo scheduler).")
        try:
            # Daphne handles Ctrl-C itself and returns; then the clock stops after its current job.
            CommandLineInterface().run(
                ["-b", options["host"], "-p", str(options["port"]), "config.asgi:application"]
            )
        finally:
            stop.set()
            clock.join(timeout=30)
