"""Every bot write, by concern; callers may import the module they need or this package."""

from fans.bot.services.assistant import (
    AWAY_REPEAT_S,
    PROGRESS_QUESTIONS,
    bot_draft,
    bot_on_fan_message,
    bot_reply,
    bot_should_look,
    canned_render,
    conversation_bot_resume,
)
from fans.bot.services.broadcast_delivery import BROADCAST_BATCH, broadcast_deferred_send
from fans.bot.services.broadcast_followup import (
    broadcast_audience_count,
    broadcast_send_later,
    broadcast_skipped,
    broadcasts_due,
)
from fans.bot.services.broadcast_schedule import broadcast_update, broadcast_waiting
from fans.bot.services.broadcasts import (
    broadcast_cancel,
    broadcast_create,
    broadcast_run,
    broadcast_stats,
    broadcasts_sweep,
)
from fans.bot.services.budget import budget_windows, promo_gate, promo_skip_record, promo_statuses
from fans.bot.services.facts import LOCAL_TTL_S, bot_facts_forget, bot_settings_get
from fans.bot.services.suggestions import (
    PRIOR_STRENGTH,
    SUGGESTION_MIN_CONFIDENCE,
    phrase_confidence,
    suggestion_decide,
    suggestion_to_dict,
    tag_suggestions_from_message,
)

__all__ = [
    "bot_settings_get",
    "LOCAL_TTL_S",
    "bot_facts_forget",
    "SUGGESTION_MIN_CONFIDENCE",
    "PRIOR_STRENGTH",
    "phrase_confidence",
    "tag_suggestions_from_message",
    "suggestion_to_dict",
    "suggestion_decide",
    "AWAY_REPEAT_S",
    "PROGRESS_QUESTIONS",
    "bot_should_look",
    "bot_reply",
    "bot_on_fan_message",
    "conversation_bot_resume",
    "bot_draft",
    "canned_render",
    "budget_windows",
    "promo_statuses",
    "promo_gate",
    "promo_skip_record",
    "BROADCAST_BATCH",
    "broadcast_create",
    "broadcast_run",
    "broadcast_stats",
    "broadcast_cancel",
    "broadcast_deferred_send",
    "broadcast_update",
    "broadcast_waiting",
    "broadcasts_sweep",
    "broadcast_audience_count",
    "broadcast_skipped",
    "broadcast_send_later",
    "broadcasts_due",
]
