"""Where preorders plugs sales evidence into 红黑榜 without shops importing it (STYLE.md layering).

None is required: with no provider the weight is 1 and the board shows null for reviews and refunds.
- rating_evidence: (shop_id, product_ids) -> {product_id: (delivered_units, after_sales_requests)}
- review_stats: (product_ids) -> {product_id: (stars_avg, n)}
- refund_stats: (product_ids) -> {product_id: refund_rate}
"""

from collections.abc import Callable, Iterable

from core.hooks import Registry

RatingEvidence = Callable[[int, list[int]], dict[int, tuple[int, int]]]
ReviewStats = Callable[[Iterable[int]], dict[int, tuple[float, int]]]
RefundStats = Callable[[Iterable[int]], dict[int, float]]

rating_evidence: Registry[RatingEvidence] = Registry("shops.rating_evidence", offered_by="preorders")
review_stats: Registry[ReviewStats] = Registry("shops.review_stats", offered_by="preorders")
refund_stats: Registry[RefundStats] = Registry("shops.refund_stats", offered_by="preorders")
