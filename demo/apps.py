from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and the `manage.py demo` command: the top layer, which no app imports."""

    name = "demo"
    verbose_name = "演示数据 Demo data"
