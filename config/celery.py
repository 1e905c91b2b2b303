import os
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler

# Workers run what the servers run by default (config.settings.base: DEBUG off).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("fansi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class BeatScheduler(PersistentScheduler):
    """Celery's file scheduler, which also makes the git-ignored folder its schedule file goes in."""

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()
