"""Extension points preorders offers to the apps above it (core.hooks): they fill them in AppConfig.ready()."""

from collections.abc import Callable

from django.http import HttpRequest

from core.hooks import Registry
from shops.models import Factory

# (request, factory, token) -> rendered HTML of one more section of the factory's signed demand board; the
# board shows aggregates only, so a section never names a fan.
BoardSection = Callable[[HttpRequest, Factory, str], str]

board_sections: Registry[BoardSection] = Registry(
    "preorders.board_sections", required=("insight",), offered_by="c2m"
)
