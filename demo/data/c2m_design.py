"""共创 demo: one DECIDED round (a down jacket, colour × length) whose winners became live group campaigns
with their voters pre-pledged (some confirmed, the others within their 48 h), the losers refunded through
the ledger and the winners assigned to 宁波暖冬服饰厂; and one LIVE round (a canvas tote) with votes and
comments.

Idempotent: rounds by title, votes by Idempotency-Key, comments by text, and every money step guarded by
state and unique references (c2m.design.services), so a second run stores nothing new.
"""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from c2m.design.models import DesignComment, DesignPrePledge, DesignRound, PrePledgeStatus, RoundStatus
from c2m.design.services import (
    pre_pledge_confirm,
    round_create,
    round_decide,
    round_factory_assign,
    round_launch,
    vote_place,
)
from demo.data.catalogue import product_image_render
from demo.data.people import fan_username
from fans.chat.models import Fan
from shops.models import Category, Factory, Product, Shop, Variant

JACKET_TITLE = "共创：冬季羽绒服 选颜色和长度"
TOTE_TITLE = "共创：帆布托特包 选颜色和尺寸"
FACTORY = "宁波暖冬服饰厂"

BLACK_LONG = {"颜色": "黑色", "长度": "长款"}
CAMEL_SHORT = {"颜色": "驼色", "长度": "短款"}
HAZE_LONG = {"颜色": "雾霾蓝", "长度": "长款"}
BLACK_SHORT = {"颜色": "黑色", "长度": "短款"}
CAMEL_LONG = {"颜色": "驼色", "长度": "长款"}
# fan numbers -> the combination they vote for (target 8: black/long and camel/short win).
JACKET_VOTES = [
    (range(101, 113), BLACK_LONG),
    (range(113, 122), CAMEL_SHORT),
    (range(122, 126), HAZE_LONG),
    (range(126, 129), BLACK_SHORT),
    (range(129, 131), CAMEL_LONG),
]
# Winners who confirmed their pre-pledge (the vote deposit counted toward the campaign deposit).
JACKET_CONFIRMED = [*range(101, 108), *range(113, 118)]
JACKET_COMMENTS = [
    (101, "黑色长款过膝最好，冬天骑车不冷"),
    (114, "驼色短款希望腰身收一点"),
    (123, "雾霾蓝很少见，希望下次还能做"),
    (0, "谢谢大家投票！黑色长款和驼色短款成团了，48 小时内确认就能锁定名额。"),
]
TOTE_VOTES = [
    (range(141, 148), {"颜色": "米白", "尺寸": "大号"}),
    (range(148, 152), {"颜色": "黑色", "尺寸": "大号"}),
    (range(152, 155), {"颜色": "军绿", "尺寸": "小号"}),
    (range(155, 157), {"颜色": "米白", "尺寸": "小号"}),
]
TOTE_COMMENTS = [
    (141, "大号能放下 14 寸电脑吗？"),
    (149, "希望内侧有拉链小口袋"),
    (0, "大号按 14 寸电脑设计，内袋我们会加上～"),
]


def _product(
    shop: Shop, code: str, name: str, price: str, brand: str, description: str, variants: list[str]
) -> Product:
    """The product idea the round is about, with its picture and the variants it will be made in (a
    winner's campaign offers the one whose name holds its options)."""
    product = Product.objects.filter(shop=shop, name=name).first()
    if product is None:
        product = Product(
            shop=shop,
            name=name,
            category=Category.CLOTHING,
            brand=brand,
            description=description,
            price=Decimal(price),
            currency="CNY",
        )
        content = product_image_render(code=code, category=Category.CLOTHING, price=product.price, name=name)
        product.image.save(f"{shop.slug}-{code.lower()}.jpg", ContentFile(content), save=False)
        product.save(force_insert=True)
    for i, variant in enumerate(variants, start=1):
        Variant.objects.get_or_create(
            sku=f"{shop.slug.upper()}-{code}-{i}",
            defaults={"product": product, "name": variant, "price": product.price},
        )
    return product


def _round(owner, product: Product, title: str, **fields) -> DesignRound:
    existing = DesignRound.objects.filter(shop=product.shop, title=title).first()
    if existing is not None:
        return existing
    rnd = round_create(
        user=owner,
        product_id=product.pk,
        title=title,
        deadline=timezone.now() + dt.timedelta(days=3),
        **fields,
    )
    round_launch(user=owner, round_id=rnd.pk)
    rnd.refresh_from_db()
    return rnd


def _votes(rnd: DesignRound, plan) -> None:  # noqa: ANN001
    if rnd.status != RoundStatus.LIVE:
        return
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="fan")}
    for numbers, combination in plan:
        for n in numbers:
            user = users.get(fan_username(n))
            if user is None or not Fan.objects.filter(shop=rnd.shop, user=user).exists():
                continue
            vote_place(
                user=user,
                round_id=rnd.pk,
                combination=combination,
                idempotency_key=f"demo-design-{rnd.pk}-{n}",
            )


def _comments(rnd: DesignRound, comments) -> None:  # noqa: ANN001
    for n, text in comments:
        if DesignComment.objects.filter(round=rnd, text=text).exists():
            continue
        if n == 0:
            DesignComment.objects.create(round=rnd, user=rnd.shop.owner, is_staff=True, text=text)
            continue
        fan = Fan.objects.filter(shop=rnd.shop, user__username=fan_username(n)).first()
        if fan is not None:
            DesignComment.objects.create(round=rnd, user=fan.user, fan=fan, text=text)


def demo_design_ensure() -> dict[str, int]:
    shop = Shop.objects.filter(slug="shop1").select_related("owner").first()
    if shop is None:
        return {}
    owner = shop.owner
    jacket = _product(
        shop,
        "D01",
        "共创款冬季羽绒服",
        "699.00",
        "暖冬",
        "粉丝一起定颜色和长度的 90 绒羽绒服，工厂直供。",
        ["黑色 长款", "驼色 短款"],
    )
    tote = _product(
        shop, "D02", "共创款帆布托特包", "129.00", "素衣", "加厚帆布，粉丝一起定颜色和尺寸。", ["米白 大号"]
    )
    decided = _round(
        owner,
        jacket,
        JACKET_TITLE,
        description="三种颜色、两种长度，哪个组合够 8 票就开团生产。",
        attributes={"颜色": ["黑色", "驼色", "雾霾蓝"], "长度": ["短款", "长款"]},
        target_per_combination=8,
        vote_deposit="5.00",
    )
    _votes(decided, JACKET_VOTES)
    _comments(decided, JACKET_COMMENTS)
    if decided.status == RoundStatus.LIVE:
        DesignRound.objects.filter(pk=decided.pk).update(deadline=timezone.now() - dt.timedelta(hours=2))
    round_decide(round_id=decided.pk)
    decided.refresh_from_db()
    for pp in DesignPrePledge.objects.filter(
        vote__round=decided,
        status=PrePledgeStatus.OFFERED,
        vote__user__username__in=[fan_username(n) for n in JACKET_CONFIRMED],
    ).select_related("vote__user"):
        pre_pledge_confirm(user=pp.vote.user, pre_pledge_id=pp.pk)
    factory = Factory.objects.filter(name=FACTORY).first()
    if factory is not None and decided.factory_id is None and decided.status == RoundStatus.DECIDED:
        round_factory_assign(round_id=decided.pk, factory_id=factory.pk)
    live = _round(
        owner,
        tote,
        TOTE_TITLE,
        description="日常通勤托特包：选你最想背的颜色和尺寸。",
        attributes={"颜色": ["米白", "黑色", "军绿"], "尺寸": ["小号", "大号"]},
        target_per_combination=10,
        vote_deposit="3.00",
    )
    _votes(live, TOTE_VOTES)
    _comments(live, TOTE_COMMENTS)
    return {"decided": decided.pk, "live": live.pk}
