from django.apps import AppConfig


class FansConfig(AppConfig):
    """The history of fans/ before it was split into fans.chat, fans.crm and fans.bot.

    It owns no models now; its migrations created the tables the three apps keep using (migration 0012
    hands them over without touching the database).
    """

    name = "fans"
    verbose_name = "粉丝 Fans"
