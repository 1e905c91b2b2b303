"""The c2m models live in their parts (c2m/<part>/models.py); Django loads them from here."""

from c2m.design.models import (
    DesignComment,
    DesignPrePledge,
    DesignRound,
    DesignVote,
    DesignVoteKey,
    DesignWinner,
)
from c2m.forecast.models import CampaignForecast

__all__ = [
    "CampaignForecast",
    "DesignComment",
    "DesignPrePledge",
    "DesignRound",
    "DesignVote",
    "DesignVoteKey",
    "DesignWinner",
]
