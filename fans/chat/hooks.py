"""Where higher apps plug into chat without chat importing them (STYLE.md layering).

- card_builders: how each card kind's payload is built and checked (chat: product cards; preorders:
  campaign cards). Staff can send both kinds from the inbox, so both are required.
- card_gate: whether a card may reach the fan now (fans.bot's attention budget).
- fan_text_listeners: called inside the append of a fan's text message, e.g. the bot deciding whether
  to look at it (it dispatches its own task after commit).
- shop_showcase: what a shop's public page shows a logged-out visitor (preorders: its live campaigns).
- conversation_fan_filters: the inbox's filters on who the fan is (fans.crm: by tag), as a Q on the
  conversation; the inbox offers the tag filter, so it is required.
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


class ConversationFanFilter(Protocol):
    def q(self, shop_ids: list[int], value: str) -> Any:
        """A Q (or Exists) on Conversation for the caller's shops; raises Invalid for a bad value."""

    def choices(self, shop: Any) -> list[tuple[str, str]]:
        """(value, label) of every value the inbox offers for this shop, in display order."""


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
conversation_fan_filters: Registry[ConversationFanFilter] = Registry(
    "chat.conversation_fan_filters", required=("tag",), offered_by="fans.crm"
)
