from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer under every app: domain errors, after-commit events, hooks, limits, database vendors."""

    name = "core"
    verbose_name = "Fansi core"

    def ready(self) -> None:
        # DRF's token view names its parsers itself (plain JSONParser): it parses strictly too, like every
        # other view (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES, core.inputs), issue 17.
        from rest_framework.authtoken.views import ObtainAuthToken
        from rest_framework.parsers import FormParser, MultiPartParser

        from core import (  # noqa: F401 - request_id connects its Celery signals
            checks,  # noqa: F401 - registers the system checks
            replica,
            request_id,
        )
        from core.inputs import StrictJSONParser

        ObtainAuthToken.parser_classes = (FormParser, MultiPartParser, StrictJSONParser)
        replica.install()
