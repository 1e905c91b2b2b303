from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Lifecycle journeys: triggers, waits and steps under the attention budget (docs/journeys.md)."""

    name = "journeys"
    verbose_name = "旅程 Journeys"

    def ready(self) -> None:
        # Lower apps offer these hooks; journeys fills them (STYLE.md layering).
        from fans.crm.hooks import privacy_sections
        from journeys import tasks  # noqa: F401 - registers the beat tasks
        from journeys.panels import privacy_birthday

        privacy_sections.register("birthday", privacy_birthday)
