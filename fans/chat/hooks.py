"""Where higher apps plug into chat without chat importing them (STYLE.md layering).

- card_builders: how each card kind's payload is built and checked (chat: product cards; preorders:
  campaign cards). Staff can send both kinds from the inbox, so both are required.
- card_gate: whether a card may reach the fan now (fans.bot's attention budget).
- fan_text_listeners: called inside the append of a fan's text message, e.g. the bot deciding whether
  to look at it (it dispatches its own task after commit).
- shop_showcase: what a shop's public page shows a logged-out visitor (preorders: its live campaigns).
- conversation_fan_filters: the inbox's filters on who the fan is (fans.crm: by tag), as a Q on the
  conversation; the inbox offers the tag filter, so it is required.
- message_persisted_listeners: told AFTER COMMIT, once per transaction, which messages were stored (ids and
  the few facts chat already holds), e.g. reach pushing to people with no open socket. A listener must not
  do network I/O beyond dispatching a task: it runs on the send path.
- chat_page_panels: extra HTML on the fan's chat page and the staff inbox (reach: the notification switch,
  the open conversation's reminders).
- triage_filters: extra inbox filters (reach: "reminders"), as a Q on Conversation for the viewer.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.safestring import SafeString

from core.errors import DomainError
from core.hooks import Registry


class CardGate(Protocol):
    def check(self, *, conversation: Any, source: str) -> DomainError | None:
        """Inside the sender's transaction, the conversation locked: None to send, or the refusal."""

    def refused(self, *, fan_id: int, source: str, refusal: DomainError) -> None:
        """After the sender's transaction rolled back: record the refusal."""


class CardDeferral(Protocol):
    def defer(
        self, *, user: Any, conversation: Any, kind: str, text: str, payload: Any, client_id: Any, at: Any
    ) -> dict[str, Any]:
        """A person's card refused for quiet hours only: store it to go at `at` (idempotent on client_id);
        returns what the sender is told (reach: the scheduled message)."""


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
# Issue 16: a live card that falls in the fan's quiet hours is deferred to their end, not refused (reach).
card_deferrals: Registry[CardDeferral] = Registry("chat.card_deferrals", offered_by="reach")
fan_text_listeners: Registry[FanTextListener] = Registry(
    "chat.fan_text_listeners", required=("bot",), offered_by="fans.bot"
)
shop_showcase: Registry[ShowcaseProvider] = Registry(
    "chat.shop_showcase", required=("campaigns",), offered_by="preorders"
)
conversation_fan_filters: Registry[ConversationFanFilter] = Registry(
    "chat.conversation_fan_filters", required=("tag",), offered_by="fans.crm"
)


@dataclass(frozen=True, slots=True)
class PersistedMessage:
    """What a message_persisted listener learns of one stored message: ids and flags, no rows."""

    message_id: int
    conversation_id: int
    shop_id: int
    fan_user_id: int
    side: str
    kind: str
    # A person on the shop's side answering (False for a broadcast: the shop speaking to many).
    hands_off: bool


class TriageFilter(Protocol):
    label: Any

    def q(self, user: Any) -> Any:
        """A Q on Conversation: the viewer's conversations in this filter."""


MessagePersistedListener = Callable[[list[PersistedMessage]], None]  # after commit
# (request, mode "fan" or "inbox", shop, the open conversation or None) -> HTML
ChatPagePanel = Callable[[Any, str, Any, Any], SafeString | str]

message_persisted_listeners: Registry[MessagePersistedListener] = Registry(
    "chat.message_persisted_listeners", required=("push",), offered_by="reach"
)
chat_page_panels: Registry[ChatPagePanel] = Registry(
    "chat.chat_page_panels", required=("push_switch",), offered_by="reach"
)
triage_filters: Registry[TriageFilter] = Registry(
    "chat.triage_filters", required=("reminders",), offered_by="reach"
)


def chat_page_panels_render(request: Any, mode: str, shop: Any, conversation: Any) -> list[SafeString | str]:
    return [
        html for html in (p(request, mode, shop, conversation) for p in chat_page_panels.providers()) if html
    ]
