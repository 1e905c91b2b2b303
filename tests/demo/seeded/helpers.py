"""Helpers of the demo tests: the command's run, and what the tests compare."""

import re
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from config.celery import app as celery_app
from fans.chat.models import Conversation, Fan, Message
from shops.models import Product, Shop, ShopMember, Variant

PASSWORD = "fansi-demo"
CJK = re.compile(r"[\u4e00-\u9fff]")


def run_demo() -> str:
    """`manage.py demo` as under REDIS_URL, where Celery is not eager: the command must run its steps itself."""
    out = StringIO()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        call_command("demo", stdout=out)
    finally:
        celery_app.conf.task_always_eager = eager
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = [get_user_model(), Shop, ShopMember, Fan, Conversation, Message, Product, Variant]
    return {model.__name__: model.objects.count() for model in models}
