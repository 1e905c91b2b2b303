from django.apps import AppConfig


class PreordersConfig(AppConfig):
    name = "preorders"
    verbose_name = "预售 Pre-orders"

    def ready(self) -> None:
        # Lower apps expose hooks; this higher app fills them (STYLE.md layering).
        from fans.bot.hooks import broadcast_campaigns, drafts, progress_answers, settings_panels
        from fans.chat.hooks import card_builders, shop_showcase
        from fans.crm.filters import EXTRA_FILTERS
        from fans.crm.hooks import fan_pledges, fan_spend_sql
        from fans.crm.lifecycle_panel import lifecycle_settings_panel
        from payments.hooks import ledger_posted, payment_settled
        from preorders import tasks  # noqa: F401 - registers the tasks that services dispatch by name
        from preorders.bot import broadcast_campaign_choices, campaign_drafts, campaign_progress_answer
        from preorders.fan_profile import fan_pledges_list
        from preorders.filters import CampaignParticipationFilter
        from preorders.onboarding import campaign_step, poster_step
        from preorders.rating_evidence import rating_evidence as evidence
        from preorders.rating_evidence import refund_rates, review_averages
        from preorders.services.balance import balance_settled
        from preorders.services.campaigns import campaign_card_build
        from preorders.services.cycle_charging import cycle_settled
        from preorders.services.spend import lifecycle_spend_sql, spend_posted
        from preorders.sharing import campaign_showcase
        from shops.hooks import rating_evidence, refund_stats, review_stats
        from shops.onboarding import onboarding_steps

        card_builders.register("campaign_card", campaign_card_build)
        shop_showcase.register("campaigns", campaign_showcase)
        payment_settled.register("balance", balance_settled)
        payment_settled.register("cycle", cycle_settled)
        ledger_posted.register("fan_spend", spend_posted)
        fan_pledges.register("pledges", fan_pledges_list)
        # The nightly lifecycle tags' 12-month spend, and their thresholds on the shop settings page.
        fan_spend_sql.register("spend", lifecycle_spend_sql)
        settings_panels.register("lifecycle", lifecycle_settings_panel)
        drafts.register("campaign", campaign_drafts)
        progress_answers.register("campaigns", campaign_progress_answer)
        broadcast_campaigns.register("campaigns", broadcast_campaign_choices)
        EXTRA_FILTERS["campaign"] = CampaignParticipationFilter()
        onboarding_steps.register("campaign", campaign_step)
        onboarding_steps.register("poster", poster_step)
        rating_evidence.register("sales", evidence)
        refund_stats.register("after_sales", refund_rates)
        review_stats.register("reviews", review_averages)
