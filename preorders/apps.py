from django.apps import AppConfig


class PreordersConfig(AppConfig):
    name = "preorders"
    verbose_name = "预售 Pre-orders"
