from typing import Any

from django.core.management.base import BaseCommand

from recommend.services import product_tags_derive


class Command(BaseCommand):
    help = (
        "Derive product tags in the fan vocabulary from names and descriptions (适合油皮 → skin_type:oily)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        added = product_tags_derive()
        self.stdout.write(f"added {added} product tag(s)")
