"""Serving: picks for a fan and fans for a product, from the serving model's precomputed factor tables.

The artifacts of the serving version are loaded once per process and kept until the serving version
changes (`serving_model` checks a cache stamp that the switch sets after commit, falling back to the
database; `recommend_for_fan` reads the serving version in its own first statement).
Per regime the fan gets the ranker that won that regime in the serving version's evaluation:

- warm_users: the fan has history in the model (their learned row);
- cold_users: no history, but tags the model knows (a vector built from the fan's current tags);
- unknown: nothing known, popularity.

Products the fan pledged or bought are excluded, and so is anything unavailable (Product.is_available is
false, or the product has variants and none is available).

Hot path: `recommend_for_fan` runs two plain-SQL statements (recommend.selectors), because compiling an ORM
query costs more than running it. Nothing the database says about a fan or a product is cached between
calls except what cannot go stale unnoticed: each shop's candidate list is rebuilt when its new-products
stamp (count and max pk of products created after training, read with the fan) changes, and tag names live
for TAG_CACHE_SECONDS. Availability is always read fresh for the top candidates.

reasons (why a pick is shown) · model (ServingModel, per-shop candidates) · loading (the per-process model
and tag caches) · fan_picks (recommend_for_fan) · product_fans (fans_for_product).
"""

from recommend.serving.fan_picks import Pick, picks_as_json, recommend_for_fan
from recommend.serving.loading import (
    NO_MODEL,
    SERVING_STAMP_KEY,
    TAG_CACHE_SECONDS,
    serving_model,
    serving_reset,
    tags_by_id,
    tags_reset,
)
from recommend.serving.model import ServingModel, ShopCatalogue
from recommend.serving.product_fans import FanPick, fans_for_product
from recommend.serving.reasons import (
    ACTIVE_FAN,
    POPULAR,
    SIMILAR_BUYERS,
    SIMILAR_FANS,
    Reason,
    match_reason,
    tag_reason,
)

__all__ = [
    "ACTIVE_FAN",
    "NO_MODEL",
    "POPULAR",
    "SERVING_STAMP_KEY",
    "SIMILAR_BUYERS",
    "SIMILAR_FANS",
    "TAG_CACHE_SECONDS",
    "FanPick",
    "Pick",
    "Reason",
    "ServingModel",
    "ShopCatalogue",
    "fans_for_product",
    "match_reason",
    "picks_as_json",
    "recommend_for_fan",
    "serving_model",
    "serving_reset",
    "tag_reason",
    "tags_by_id",
    "tags_reset",
]
