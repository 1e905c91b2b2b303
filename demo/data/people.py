"""Demo accounts (platform admin, shop staff, fan1..fan200) and the fans following the demo shops."""

import random

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from demo.data.result import DemoResult
from fans.chat.models import Conversation, Fan
from fans.chat.services import fan_follow
from shops.models import Shop

PASSWORD = "fansi-demo"
FAN_COUNT = 200
SHOP2_FAN_COUNT = 20
SEED = 20240601

STAFF_ACCOUNTS: list[tuple[str, str]] = [
    ("admin", "平台管理员"),
    ("owner", "小美"),
    ("staff1", "小林"),
    ("manager1", "王经理"),
    ("owner2", "阿强"),
]

# fmt: off
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈"
GIVEN_SINGLE = "静敏丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玲芳燕萍红娜婷雪琳晶颖倩琪欣悦"
GIVEN_DOUBLE = [
    "小红", "小燕", "晓雯", "思琪", "雨涵", "梓萱", "欣怡", "佳怡", "子涵", "诗涵", "梦瑶", "雅琴",
    "婉清", "一诺", "可馨", "嘉怡", "浩然", "子轩", "宇航", "俊杰", "志强", "建华", "文博", "明轩",
    "晓东", "海燕", "春梅", "秋月", "丽娟", "慧敏",
]
# fmt: on


def fan_display_names(count: int = FAN_COUNT, *, seed: int = SEED) -> list[str]:
    """Deterministic Chinese names (surname + one- or two-character given name)."""
    rng = random.Random(seed)
    names = []
    for _ in range(count):
        given = rng.choice(GIVEN_DOUBLE) if rng.random() < 0.6 else rng.choice(GIVEN_SINGLE)
        names.append(rng.choice(SURNAMES) + given)
    return names


def fan_username(n: int) -> str:
    return f"fan{n}"


def demo_users_ensure(result: DemoResult) -> dict[str, AbstractBaseUser]:
    """Every demo account, created in one bulk insert; existing accounts keep their password."""
    user_model = get_user_model()
    names = fan_display_names()
    wanted: dict[str, str] = dict(STAFF_ACCOUNTS)
    wanted.update({fan_username(n): names[n - 1] for n in range(1, FAN_COUNT + 1)})

    existing = {u.username: u for u in user_model.objects.filter(username__in=wanted)}
    # One hash for everyone: the real hasher costs ~0.3 s per call, and these are public demo logins.
    password_hash = make_password(PASSWORD)
    missing = [
        user_model(
            username=username,
            first_name=display,
            email=f"{username}@example.com",
            password=password_hash,
            is_staff=username == "admin",
            is_superuser=username == "admin",
        )
        for username, display in wanted.items()
        if username not in existing
    ]
    user_model.objects.bulk_create(missing, ignore_conflicts=True)
    result.users_created = len(missing)

    admin = existing.get("admin")
    if admin is not None and not (admin.is_staff and admin.is_superuser and admin.is_active):
        user_model.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True, is_active=True)
    return {u.username: u for u in user_model.objects.filter(username__in=wanted)}


def demo_fans_ensure(users: dict[str, AbstractBaseUser], shops: dict[str, Shop], result: DemoResult) -> None:
    """fan1..fan200 follow shop 1 and fan1..fan20 also shop 2, each getting their conversation."""
    names = fan_display_names()
    before = Fan.objects.filter(shop__in=shops.values()).count()
    # Already following with a conversation: nothing for fan_follow to do, so skip the round trips.
    done = set(Conversation.objects.filter(shop__in=shops.values()).values_list("shop_id", "fan__user_id"))
    # fan_follow joins this transaction: one commit instead of 220 (matters on SQLite).
    with transaction.atomic():
        for n in range(1, FAN_COUNT + 1):
            user = users[fan_username(n)]
            for shop in [shops["shop1"], shops["shop2"]] if n <= SHOP2_FAN_COUNT else [shops["shop1"]]:
                if (shop.pk, user.pk) not in done:
                    fan_follow(user=user, shop=shop, display_name=names[n - 1], via="demo")
    result.fans_created = Fan.objects.filter(shop__in=shops.values()).count() - before
