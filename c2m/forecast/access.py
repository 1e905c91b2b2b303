"""Who may see a campaign's forecast: the shop's staff (owner, manager, assistant)."""

from django.contrib.auth.models import AbstractBaseUser

from core.errors import Forbidden
from preorders.access import access_campaign
from preorders.models import Campaign


def access_campaign_forecast(user: AbstractBaseUser, campaign_id: int) -> Campaign:
    """The campaign if the user works for its shop. A draft is NotFound to everyone else (as its page); a
    launched campaign is public, so anyone else is Forbidden from its forecast."""
    campaign, is_staff = access_campaign(user, campaign_id)
    if not is_staff:
        raise Forbidden()
    return campaign
