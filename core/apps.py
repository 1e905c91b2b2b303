from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer under every app: domain errors, after-commit events, hooks, limits, database vendors."""

    name = "core"
    verbose_name = "Fansi core"

    def ready(self) -> None:
        from core import (  # noqa: F401 - request_id connects its Celery signals
            checks,  # noqa: F401 - registers the system checks
            replica,
            request_id,
        )

        replica.install()
