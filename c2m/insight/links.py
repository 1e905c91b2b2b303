"""Links to a factory's insight report, behind its signed board link (for co-design and admin pages)."""

from django.urls import reverse

from preorders.api_factory import board_token
from preorders.models import Campaign
from shops.models import Factory

FORMATS = {
    "json": "api-factory-board-insight",
    "pdf": "api-factory-board-insight-pdf",
    "csv": "api-factory-board-insight-csv",
}


def insight_url(*, factory: Factory, campaign: Campaign, fmt: str = "json") -> str:
    """The path of the factory's insight report for a campaign (json, pdf or csv); a fresh signed token."""
    return f"{reverse(FORMATS[fmt], args=[board_token(factory)])}?campaign={campaign.pk}"


def insight_page_url(*, factory: Factory, campaign: Campaign) -> str:
    """The factory's board page opened at this campaign's insight."""
    return f"{reverse('factory-board', args=[board_token(factory)])}?insight={campaign.pk}#insight"
