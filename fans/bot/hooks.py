"""Where higher apps plug into the bot without the bot importing them (STYLE.md layering).

The broadcast form offers campaign cards: preorders lists a shop's live campaigns ("campaigns").
The owner's composer offers the /recommend and /campaign commands, and the bot answers progress
questions ("还差多少"): recommend registers "recommend" drafts, preorders registers "campaign" drafts and
the "campaigns" progress answer, each in its AppConfig.ready(). core.checks fails start-up when one of
them is missing, so a command the UI offers cannot answer "unknown command".
"""

from collections.abc import Callable
from typing import Any

from core.hooks import Registry
from fans.chat.models import Fan

# provider(fan, k) -> [{"kind": "product_card"|"campaign_card", "card": {...}, "reason": str}]
DraftProvider = Callable[[Fan, int], list[dict[str, Any]]]
# provider(fan, text) -> answer text, or None when the question is not about its campaigns
ProgressProvider = Callable[[Fan, str], str | None]
# provider(shop) -> [(campaign id, label)]: the live campaigns a broadcast may carry as its card
CampaignChoices = Callable[[Any], list[tuple[int, str]]]

# The commands the composer offers (templates/fans/_thread.html), each a draft provider's name.
OFFERED_COMMANDS = ("recommend", "campaign")

drafts: Registry[DraftProvider] = Registry(
    "bot.drafts", required=OFFERED_COMMANDS, offered_by="recommend, preorders"
)
progress_answers: Registry[ProgressProvider] = Registry(
    "bot.progress_answers", required=("campaigns",), offered_by="preorders"
)
broadcast_campaigns: Registry[CampaignChoices] = Registry(
    "bot.broadcast_campaigns", required=("campaigns",), offered_by="preorders"
)

# provider(request, shop) -> HTML: more sections on the shop's settings page (reach: the staff digest).
SettingsPanel = Callable[[Any, Any], Any]
settings_panels: Registry[SettingsPanel] = Registry(
    "bot.settings_panels", required=("digest",), offered_by="reach"
)


def settings_panels_render(request: Any, shop: Any) -> list[Any]:
    return [html for html in (p(request, shop) for p in settings_panels.providers()) if html]
