"""Panels a higher app adds to the owner's campaign page (preorders cannot import c2m: STYLE.md layering).

- campaign_panels: (request, campaign) -> safe HTML for the campaign page, or "" for nothing. c2m fills
  "forecast" (AQ 预判: the forecast before launch, and forecast against actual after the close).
"""

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString

from core.hooks import Registry

CampaignPanel = Callable[[Any, Any], SafeString | str]  # (request, campaign) -> rendered HTML

campaign_panels: Registry[CampaignPanel] = Registry(
    "preorders.campaign_panels", required=("forecast",), offered_by="c2m"
)


def campaign_panels_render(request: Any, campaign: Any) -> list[SafeString | str]:
    """Every registered panel's HTML for this campaign, in registration order, empty ones left out."""
    return [
        html for html in (provider(request, campaign) for provider in campaign_panels.providers()) if html
    ]
