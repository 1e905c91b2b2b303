from django.apps import AppConfig


class PreordersConfig(AppConfig):
    name = "preorders"
    verbose_name = "预售 Pre-orders"

    def ready(self) -> None:
        # Lower apps expose hooks; this higher app fills them (STYLE.md layering).
        from fans.chat.hooks import card_builders
        from fans.crm.filters import EXTRA_FILTERS
        from preorders.filters import CampaignParticipationFilter
        from preorders.services.campaigns import campaign_card_build

        card_builders.register("campaign_card", campaign_card_build)
        EXTRA_FILTERS["campaign"] = CampaignParticipationFilter()
