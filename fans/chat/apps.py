from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Conversations between a shop and its fans: messages, the websocket, images, cards, read state."""

    name = "fans.chat"
    label = "chat"
    verbose_name = "会话 Chat"

    def ready(self) -> None:
        from fans.chat import cards  # noqa: F401 - registers the product card builder
        from fans.chat.onboarding import first_fan_step
        from shops.onboarding import onboarding_steps

        onboarding_steps.register("fan", first_fan_step)
        # Prometheus: messages stored, counted after commit (core/metrics.py).
        from core import metrics
        from fans.chat.hooks import message_persisted_listeners

        message_persisted_listeners.register("metrics", metrics.messages_persisted)
