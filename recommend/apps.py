from typing import Any

from django.apps import AppConfig


def recommend_drafts(fan: Any, k: int) -> list[dict[str, Any]]:
    """Bot draft provider: the fan's top picks as product-card drafts for staff to review."""
    from recommend.serving import recommend_for_fan

    return [
        {
            "kind": "product_card",
            "card": {"product": pick.product.pk, "name": pick.product.name, "price": str(pick.product.price)},
            "reason": str(pick.reason),
        }
        for pick in recommend_for_fan(fan, k)
    ]


class RecommendConfig(AppConfig):
    name = "recommend"
    verbose_name = "推荐 Recommendations"

    def ready(self) -> None:
        from fans.bot import hooks as bot_hooks
        from fans.crm import filters
        from recommend.segments import FanIdsFilter

        bot_hooks.drafts.register("recommend", recommend_drafts)
        filters.EXTRA_FILTERS.setdefault("fan_ids", FanIdsFilter())
