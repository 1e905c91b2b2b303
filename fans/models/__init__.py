from fans.models.bot import (
    BotSettings,
    Broadcast,
    CannedReply,
    DeliveryStatus,
    FaqRule,
    PhraseRule,
    PromoDelivery,
    SuggestionStatus,
    TagSuggestion,
)
from fans.models.chat import Conversation, Fan, Message, MessageKind, Side
from fans.models.crm import (
    AuditLog,
    BulkJob,
    FanTag,
    FanTagEvent,
    ImportJob,
    JobStatus,
    Segment,
    Tag,
    TagChoice,
    TagGroup,
    TagSource,
)

__all__ = [
    "BotSettings", "Broadcast", "CannedReply", "DeliveryStatus", "FaqRule", "PhraseRule", "PromoDelivery",
    "SuggestionStatus", "TagSuggestion",
    "AuditLog", "BulkJob", "Conversation", "Fan", "FanTag", "FanTagEvent", "ImportJob", "JobStatus", "Message", "MessageKind",
    "Segment", "Side", "Tag", "TagChoice", "TagGroup", "TagSource",
]
