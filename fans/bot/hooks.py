"""Where higher apps plug into the bot without `fans` importing them (STYLE.md layering).

recommend registers a "recommend" draft provider; preorders registers "campaign" drafts and answers
progress questions ("还差多少"). Each registers in its AppConfig.ready().
"""

from collections.abc import Callable
from typing import Any

from fans.chat.models import Fan

# name → provider(fan, k) -> [{"kind": "product_card"|"campaign_card", "card": {...}, "reason": str}]
DraftProvider = Callable[[Fan, int], list[dict[str, Any]]]
# provider(fan, text) -> answer text, or None when the question is not about its campaigns
ProgressProvider = Callable[[Fan, str], str | None]

draft_providers: dict[str, DraftProvider] = {}
progress_providers: list[ProgressProvider] = []


def draft_provider_register(name: str, provider: DraftProvider) -> None:
    draft_providers[name] = provider


def progress_provider_register(provider: ProgressProvider) -> None:
    if provider not in progress_providers:
        progress_providers.append(provider)
