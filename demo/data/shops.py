"""The demo shops, their owners and staff, and which catalogue codes each one sells."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from demo.data.result import DemoResult
from shops.models import Shop, ShopMember, ShopRole


@dataclass(frozen=True)
class ShopSpec:
    slug: str
    name: str
    owner: str
    invite_code: str
    description: str
    staff: tuple[tuple[str, str], ...]  # (username, role)
    products: tuple[str, ...]  # catalogue codes


# fmt: off
SHOPS: list[ShopSpec] = [
    ShopSpec(
        slug="shop1",
        name="小美的美妆生活馆",
        owner="owner",
        invite_code="shop1-invite",
        description="护肤彩妆为主，也有家居好物、当季鲜果和换季衣物。有问题随时私信小美～",
        staff=(("staff1", ShopRole.ASSISTANT), ("manager1", ShopRole.MANAGER)),
        products=(
            "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12",
            "H01", "H02", "H04", "H05", "H06", "H11",
            "F01", "F02", "F03", "F04", "F05", "F06",
            "C01", "C02", "C03", "C04", "C05", "C07",
        ),
    ),
    ShopSpec(
        slug="shop2",
        name="阿强家居优选",
        owner="owner2",
        invite_code="shop2-invite",
        description="家居好物、厨房收纳，兼顾性价比和颜值；也卖应季水果和基础款衣服。",
        staff=(),
        products=(
            "H01", "H02", "H03", "H04", "H05", "H06", "H07", "H08", "H09", "H10", "H11", "H12",
            "B01", "B02", "B05", "B08", "B11", "B14",
            "F01", "F02", "F04", "F05", "F07", "F08",
            "C01", "C02", "C06", "C08", "C09", "C10",
        ),
    ),
]
# fmt: on


def demo_shops_ensure(users: dict[str, AbstractBaseUser], result: DemoResult) -> dict[str, Shop]:
    shops: dict[str, Shop] = {}
    with transaction.atomic():
        for spec in SHOPS:
            shop, _ = Shop.objects.get_or_create(
                slug=spec.slug,
                defaults={
                    "name": spec.name,
                    "owner": users[spec.owner],
                    "invite_code": spec.invite_code,
                    "description": spec.description,
                },
            )
            members = [(spec.owner, ShopRole.OWNER), *spec.staff]
            for username, role in members:
                ShopMember.objects.get_or_create(shop=shop, user=users[username], defaults={"role": role})
            shops[spec.slug] = shop
    result.shops = list(shops.values())
    return shops
