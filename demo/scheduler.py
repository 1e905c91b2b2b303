"""The demo's clock: every CELERY_BEAT_SCHEDULE entry on its schedule, run in this process.

`make demo` serves embedded (SQLite, eager Celery, no broker), where no beat runs; without this nothing would
close a campaign at its deadline, lapse an unpaid balance or send a scheduled broadcast. Each due task is
called in-process, as eager Celery would; every task is idempotent and re-checks state (STYLE.md), so a tick
that overlaps a request is safe. A failing task is logged and retried on its next turn; it never stops the
others.
"""

import dataclasses
import datetime as dt
import logging
import threading
from typing import Any

from celery.schedules import BaseSchedule, crontab, maybe_schedule
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)

# How often the clock looks for due entries; the shortest beat interval is 30 s.
TICK_S = 5.0


@dataclasses.dataclass
class Entry:
    name: str
    task: str
    schedule: BaseSchedule
    args: tuple[Any, ...]
    last_run: dt.datetime | None  # None: due at the first tick


class InProcessBeat:
    """Runs beat entries (settings.CELERY_BEAT_SCHEDULE unless given) when due: tick() runs one round."""

    def __init__(
        self, schedule: dict[str, dict[str, Any]] | None = None, *, recycle_connections: bool = True
    ) -> None:
        from config.celery import app

        # Every app's tasks module, so each entry finds its task by its Celery name.
        app.loader.import_default_modules()
        self.app = app
        # A long-lived thread drops a broken or aged connection between jobs, as a request does (off inside a
        # test's transaction, which this would close).
        self.recycle_connections = recycle_connections
        entries = settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule
        now = timezone.now()
        self.entries = [
            Entry(
                name=name,
                task=entry["task"],
                schedule=maybe_schedule(entry["schedule"]),
                args=tuple(entry.get("args", ())),
                # Interval jobs catch up at start (a deadline may have passed while the demo was off); a
                # crontab job such as the nightly training waits for its time.
                last_run=now if isinstance(maybe_schedule(entry["schedule"]), crontab) else None,
            )
            for name, entry in entries.items()
        ]

    def tick(self) -> list[str]:
        """Run every due entry once; returns the names run."""
        ran = []
        for entry in self.entries:
            if entry.last_run is not None and not entry.schedule.is_due(entry.last_run)[0]:
                continue
            entry.last_run = timezone.now()
            try:
                self.app.tasks[entry.task](*entry.args)
            except Exception:  # noqa: BLE001 - one broken job must not stop the clock; it runs again next turn
                logger.exception("scheduled job %s (%s) failed", entry.name, entry.task)
            else:
                logger.debug("ran scheduled job %s", entry.name)
            finally:
                if self.recycle_connections:
                    close_old_connections()
            ran.append(entry.name)
        return ran

    def run(self, stop: threading.Event, *, every_s: float = TICK_S) -> None:
        """Tick until `stop` is set (the serving thread's Ctrl-C)."""
        logger.info("demo scheduler started: %d jobs", len(self.entries))
        while not stop.is_set():
            self.tick()
            stop.wait(every_s)
        logger.info("demo scheduler stopped")
