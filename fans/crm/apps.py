from django.apps import AppConfig


class CrmConfig(AppConfig):
    """The fan CRM: tag vocabulary, tagging, segments, bulk jobs, CSV import and export, team tools."""

    name = "fans.crm"
    label = "crm"
    verbose_name = "粉丝管理 CRM"

    def ready(self) -> None:
        from fans.chat.hooks import conversation_fan_filters
        from fans.crm import tasks  # noqa: F401 - registers the tasks that services dispatch by name
        from fans.crm.inbox_filters import InboxTagFilter

        conversation_fan_filters.register("tag", InboxTagFilter())
