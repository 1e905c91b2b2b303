"""Limits and role sets, each defined once."""

from django.conf import settings

# Text of any message, notice or broadcast (chat protocol: docs/chat-protocol.md).
MESSAGE_MAX_LENGTH = 4000


def message_max_length() -> int:
    """The chat text limit; FANSI_CHAT may lower it for a deployment, never raise it past the column's."""
    return min(int(settings.FANSI_CHAT.get("MAX_TEXT_LENGTH", MESSAGE_MAX_LENGTH)), MESSAGE_MAX_LENGTH)


# The roles that run a shop's team (ShopRole values; shops.roles holds the rules built on them).
MANAGING_ROLES = ("owner", "manager")
