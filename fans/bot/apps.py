from django.apps import AppConfig


class BotConfig(AppConfig):
    """The owner's chat bot: tag suggestions, FAQ, assistant, canned replies, attention budget, broadcasts."""

    name = "fans.bot"
    label = "bot"
    verbose_name = "助手 Bot"

    def ready(self) -> None:
        # fans.chat offers these hooks; the bot fills them (STYLE.md layering).
        from fans.bot import tasks  # noqa: F401 - registers the tasks that services dispatch by name
        from fans.bot.services.assistant import fan_text_look
        from fans.bot.services.budget import AttentionBudgetGate
        from fans.chat.hooks import card_gates, fan_text_listeners

        card_gates.register("attention_budget", AttentionBudgetGate())
        fan_text_listeners.register("bot", fan_text_look)
