from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer under every app: domain errors, after-commit events, hooks, limits, database vendors."""

    name = "core"
    verbose_name = "Fansi core"

    def ready(self) -> None:
        from core import checks  # noqa: F401 - registers the system checks
        from core import replica, request_id  # noqa: F401 - request_id connects its Celery signals

        replica.install()
