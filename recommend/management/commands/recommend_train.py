from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import Conflict
from recommend.models import ModelStatus, ModelVersion
from recommend.services import model_train, product_tags_derive


class Command(BaseCommand):
    help = "Train a recommendation model version now, in this process, and switch serving to it when ready."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--derive-tags", action="store_true", help="derive product tags from descriptions first"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["derive_tags"]:
            self.stdout.write(f"added {product_tags_derive()} product tag(s)")
        from recommend.services.versions import _new_version_name

        if ModelVersion.objects.filter(status=ModelStatus.TRAINING, started_at__isnull=False).exists():
            raise CommandError(str(Conflict("A model is training already.")))
        version = ModelVersion.objects.create(version=_new_version_name())
        version = model_train(version_id=version.pk)
        self.stdout.write(
            f"{version.version}: {version.status}, serving={version.is_serving}, "
            f"fit {version.fit_seconds} s, total {version.duration_seconds} s"
        )
        for note in version.notes:
            self.stdout.write(f"note: {note}")
        for regime, served in version.served.items():
            self.stdout.write(f"{regime}: {served['recipe']}")
        if version.status == ModelStatus.FAILED:
            raise CommandError(version.error.splitlines()[0])
