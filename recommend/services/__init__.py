"""Writes for recommendations, one module per concern; callers may import the module they need or this one.

interactions (interaction_record, card clicks) · outreach (a card to a fan, likely fans as a segment) ·
product_tags (tags from descriptions) · versions (training runs, the serving switch, pruning artifacts).
Tunables and private helpers are not re-exported: import and patch them in the module that uses them.
"""

from recommend.services.interactions import card_click_record, interaction_record
from recommend.services.outreach import likely_fans_segment_save, recommendation_send
from recommend.services.product_tags import DESCRIPTION_RULES, product_tags_derive, tags_from_text
from recommend.services.versions import (
    TrainOptions,
    model_switch,
    model_train,
    model_train_request,
    models_prune,
)

__all__ = [
    "DESCRIPTION_RULES",
    "TrainOptions",
    "card_click_record",
    "interaction_record",
    "likely_fans_segment_save",
    "model_switch",
    "model_train",
    "model_train_request",
    "models_prune",
    "product_tags_derive",
    "recommendation_send",
    "tags_from_text",
]
