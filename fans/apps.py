from django.apps import AppConfig


class FansConfig(AppConfig):
    name = "fans"
    verbose_name = "粉丝 Fans"
