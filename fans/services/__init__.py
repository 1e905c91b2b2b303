"""Every write for fans: chat (conversations, messages) and CRM (tags, segments, bulk jobs, imports, team)."""

from fans.services import crm, tagging
from fans.services.chat import (
    CARD_KINDS,
    FAN_KINDS,
    STAFF_KINDS,
    conversation_assign,
    conversation_groups,
    conversation_read,
    fan_follow,
    message_send,
    system_message_post,
)

__all__ = [
    "crm",
    "tagging",
    "CARD_KINDS",
    "FAN_KINDS",
    "STAFF_KINDS",
    "conversation_assign",
    "conversation_groups",
    "conversation_read",
    "fan_follow",
    "message_send",
    "system_message_post",
]
