"""Extension points preorders offers to the apps above it (core.hooks): they fill them in AppConfig.ready()."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString

from core.hooks import Registry
from shops.models import Factory

# (request, factory, token) -> rendered HTML of one more section of the factory's signed demand board; the
# board shows aggregates only, so a section never names a fan.
BoardSection = Callable[[HttpRequest, Factory, str], str]

board_sections: Registry[BoardSection] = Registry(
    "preorders.board_sections", required=("insight",), offered_by="c2m"
)

# (request, campaign) -> safe HTML for the owner's campaign page, or "" for nothing; c2m fills "forecast"
# (AQ 预判: the forecast before launch, and forecast against actual after the close).
CampaignPanel = Callable[[Any, Any], SafeString | str]

campaign_panels: Registry[CampaignPanel] = Registry(
    "preorders.campaign_panels", required=("forecast",), offered_by="c2m"
)


def campaign_panels_render(request: Any, campaign: Any) -> list[SafeString | str]:
    """Every registered panel's HTML for this campaign, in registration order, empty ones left out."""
    return [
        html for html in (provider(request, campaign) for provider in campaign_panels.providers()) if html
    ]
