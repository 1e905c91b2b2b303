"""Demo fruit box: the weekly fruit subscription's items (with ripening days, equal-price options and durian)
and four subscribers who changed their boxes: a never-list and a swap, a gift, every two weeks, and a small
box delivered two days late.

Idempotent like the rest: items are found by name, pledges by the fan's Idempotency-Key, and every change
is a set-to (asking again stores nothing new). Run by demo.data.seed after demo_campaigns_ensure.
"""

from django.contrib.auth import get_user_model

from core.errors import DomainError
from preorders.models import BoxItem, Campaign, CampaignStatus
from preorders.services import pledge_place
from preorders.services.fruit_box import (
    box_delay,
    box_frequency_set,
    box_gift,
    box_prefs_update,
    box_swap,
)
from preorders.services.fruit_box_items import box_item_create

SUBSCRIPTION_TITLE = "每周鲜果订阅"

# name, unit price, ready to eat after (days), quantity, in the standard box. Something is ripe every day:
# apples from day 0, bananas at their best on day 2, mango on 3, kiwi on 4, avocado on 5.
ITEMS = [
    ("苹果", "3.00", 0, 4, True),
    ("香蕉", "2.00", 2, 4, True),
    ("芒果", "8.00", 3, 2, True),
    ("猕猴桃", "4.00", 4, 3, True),
    ("牛油果", "10.00", 5, 2, True),
    ("梨", "3.00", 0, 1, False),  # for the apples
    ("橙子", "4.00", 0, 1, False),  # for the kiwis
    ("火龙果", "8.00", 1, 1, False),  # for the mangoes
    ("榴莲", "10.00", 2, 1, False),  # for the avocados, a portion
]

# fan13..fan16: shop 1 fans with no other demo pledge.
BOX_FANS = (13, 14, 15, 16)


def _pledge(campaign: Campaign, n: int) -> tuple[object, int] | None:
    user = get_user_model().objects.filter(username=f"fan{n}").first()
    variant = campaign.product.variants.order_by("pk").first()
    if user is None or variant is None:
        return None
    body, _created = pledge_place(
        user=user,
        campaign_id=campaign.pk,
        variant_id=variant.pk,
        quantity=1,
        idempotency_key=f"demo-box-{campaign.pk}-{n}",
    )
    return user, body["id"]


def demo_fruit_box_ensure() -> dict[str, int]:
    """The box and its four changed subscriptions; {"campaign": id, "pledge": fan13's} for the printed links."""
    campaign = (
        Campaign.objects.filter(shop__slug="shop1", title=SUBSCRIPTION_TITLE)
        .select_related("shop__owner")
        .first()
    )
    if campaign is None:
        return {}
    have = set(BoxItem.objects.filter(campaign=campaign).values_list("name", flat=True))
    for name, price, ripen, quantity, default in ITEMS:
        if name not in have:
            box_item_create(
                user=campaign.shop.owner,
                campaign_id=campaign.pk,
                name=name,
                unit_price=price,
                ripen_days=ripen,
                quantity=quantity,
                is_default=default,
            )
    out = {"campaign": campaign.pk}
    if campaign.status != CampaignStatus.LIVE:
        return out
    items = {i.name: i.pk for i in BoxItem.objects.filter(campaign=campaign)}
    pledges = {n: found for n in BOX_FANS if (found := _pledge(campaign, n)) is not None}
    changes = {
        13: [
            lambda user, pid: box_prefs_update(user=user, pledge_id=pid, never=[items["榴莲"]]),
            lambda user, pid: box_swap(
                user=user, pledge_id=pid, item_id=items["苹果"], option_id=items["梨"]
            ),
        ],
        14: [
            lambda user, pid: box_gift(
                user=user,
                pledge_id=pid,
                name="张阿姨",
                phone="138 0013 8000",
                address="上海市徐汇区漕溪北路 88 号 3 楼",
                message="尝尝这周的芒果～",
            )
        ],
        15: [lambda user, pid: box_frequency_set(user=user, pledge_id=pid, frequency="biweekly")],
        16: [
            lambda user, pid: box_prefs_update(user=user, pledge_id=pid, box_size="small"),
            lambda user, pid: box_delay(user=user, pledge_id=pid, days=2),
        ],
    }
    for n, (user, pledge_id) in pledges.items():
        for change in changes[n]:
            try:
                change(user, pledge_id)
            except DomainError:  # an old demo database past this box's cut-off keeps what it has
                break
    if 13 in pledges:
        out["pledge"] = pledges[13][1]
    return out
