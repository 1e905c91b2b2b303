from django.apps import AppConfig


class C2MConfig(AppConfig):
    """Factory-direct C2M above the campaigns: the factory's insight report, co-design rounds with fans, and
    the forecast before launch (issue 14). It sits above preorders and below the demo."""

    name = "c2m"
    verbose_name = "C2M 工厂直连"

    def ready(self) -> None:
        from c2m import tasks  # noqa: F401 - registers the tasks beat runs by name
        from c2m.design.services import PURPOSE, design_vote_settled
        from c2m.design.views import design_board_section
        from c2m.forecast.panels import forecast_panel
        from c2m.insight.views import insight_board_section, insight_panel
        from payments.hooks import payment_settled
        from preorders.hooks import board_sections, campaign_panels

        campaign_panels.register("forecast", forecast_panel)
        campaign_panels.register("insight", insight_panel)
        board_sections.register("insight", insight_board_section)
        board_sections.register("design_rounds", design_board_section)
        payment_settled.register(PURPOSE, design_vote_settled)
