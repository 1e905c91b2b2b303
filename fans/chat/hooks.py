"""Where higher apps plug into chat without chat importing them (STYLE.md layering).

- card_builders: how each card kind's payload is built and checked (chat: product cards; preorders:
  campaign cards). Staff can send both kinds from the inbox, so both are required.
- card_gate: whether a card may reach the fan now (fans.bot's attention budget).
- fan_text_listeners: called inside the append of a fan's text message, e.g. the bot deciding whether
  to look at it (it dispatches its own task after commit).
- shop_showcase: what a shop's public page shows a logged-out visitor (preorders: its live campaigns).
"""

from collections.abc import Callable
from typing import Any, Protocol

from core.errors import DomainError
from core.hooks import Registry


class CardGate(Protocol):
    def check(self, *, conversation: Any, source: str) -> DomainError | None:
        """Inside the sender's transaction, the conversation locked: None to send, or the refusal."""

    def refused(self, *, fan_id: int, source: str, refusal: DomainError) -> None:
        """After the sender's transaction rolled back: record the refusal."""


CardBuilder = Callable[[Any, dict[str, Any]], dict[str, Any]]  # (shop, payload) -> card snapshot
FanTextListener = Callable[[Any, Any], None]  # (conversation, message), inside the transaction
ShowcaseProvider = Callable[[Any], list[dict[str, Any]]]  # (shop) -> public items: no fan identities

card_builders: Registry[CardBuilder] = Registry(
    "chat.card_builders", required=("product_card", "campaign_card"), offered_by="fans.chat / preorders"
)
card_gates: Registry[CardGate] = Registry(
    "chat.card_gate", required=("attention_budget",), offered_by="fans.bot"
)
fan_text_listeners: Registry[FanTextListener] = Registry(
    "chat.fan_text_listeners", required=("bot",), offered_by="fans.bot"
)
shop_showcase: Registry[ShowcaseProvider] = Registry(
    "chat.shop_showcase", required=("campaigns",), offered_by="preorders"
)
