from django.apps import AppConfig


class ReachConfig(AppConfig):
    """Reaching people who are not looking: web push, staff digests, follow-up reminders (docs/reach.md)."""

    name = "reach"
    verbose_name = "触达 Reach"

    def ready(self) -> None:
        # Lower apps offer these hooks; reach fills them (STYLE.md layering).
        from fans.bot.hooks import settings_panels
        from fans.chat.hooks import (
            card_deferrals,
            chat_page_panels,
            message_persisted_listeners,
            triage_filters,
        )
        from fans.crm.hooks import privacy_sections
        from reach import tasks  # noqa: F401 - registers the tasks that services dispatch by name
        from reach.panels import (
            digest_settings_panel,
            privacy_devices,
            push_switch,
            reminders_panel,
            scheduled_panel,
        )
        from reach.selectors import RemindersFilter
        from reach.services.push import messages_persisted
        from reach.services.scheduled import QuietCardDeferral

        message_persisted_listeners.register("push", messages_persisted)
        # A person's live card in the fan's quiet hours is scheduled for their end (issue 16).
        card_deferrals.register("scheduled", QuietCardDeferral())
        chat_page_panels.register("push_switch", push_switch)
        chat_page_panels.register("reminders", reminders_panel)
        chat_page_panels.register("scheduled", scheduled_panel)
        triage_filters.register("reminders", RemindersFilter())
        settings_panels.register("digest", digest_settings_panel)
        privacy_sections.register("devices", privacy_devices)
