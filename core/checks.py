"""System checks of the base layer: every offered hook has its provider."""

from typing import Any

from django.core.checks import Error, Tags, register

from core.hooks import registries


@register(Tags.compatibility)
def hooks_filled(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for registry in registries():
        for key in registry.missing():
            errors.append(
                Error(
                    f"Hook {registry.name!r} offers {key!r} but no app registered a provider for it.",
                    hint=f"Register it in an AppConfig.ready() ({registry.offered_by or 'see core.hooks'}).",
                    obj=registry.name,
                    id="fansi.E001",
                )
            )
    return errors
