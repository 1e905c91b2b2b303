"""A past broadcast of shop1 to its oily-skin fans, so /broadcasts/ shows delivery numbers and the fans it
skipped by name and reason (two turned promotions off; the rest as the budget decides, and in quiet hours
deferred to their end), and the inbox shows that a broadcast moved nobody up; and a weekend offer scheduled
for the day after tomorrow at 10:00 on the shop's clock, which the owner can still edit or cancel.
Idempotent: shop1 gets them once."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

from fans.bot.models import Broadcast
from fans.bot.services.broadcasts import broadcast_create, broadcast_run
from fans.chat.models import Fan
from fans.crm.models import FanTag
from shops.models import Shop, ShopMember

TEXT = "控油洁面乳到货啦～老粉丝专享 8 折，回复「要」帮你留一支！"
SCHEDULED_TEXT = "周末福利：控油洁面乳拼团开始，满 20 人成团，定金 10 元～"
OPTED_OUT = 2


def demo_broadcasts_ensure() -> int:
    shop = Shop.objects.filter(slug="shop1").first()
    if shop is None or Broadcast.objects.filter(shop=shop).exists():
        return 0
    oily = list(
        FanTag.objects.filter(fan__shop=shop, tag__group__code="skin_type", tag__code="oily")
        .order_by("fan_id")
        .values_list("fan_id", flat=True)
    )
    if not oily:
        return 0
    Fan.objects.filter(pk__in=oily[:OPTED_OUT]).update(promotions_opt_out=True)
    owner = ShopMember.objects.get(shop=shop, user=shop.owner)
    broadcast = broadcast_create(
        member=owner, kind="text", text=TEXT, filter={"tags_any": ["skin_type:oily"]}
    )
    # The demo has no worker of its own yet: deliver now (a dispatched run finds it taken and stops).
    broadcast_run(broadcast_id=broadcast.pk)
    local = timezone.now().astimezone(ZoneInfo(shop.timezone)) + dt.timedelta(days=2)
    broadcast_create(
        member=owner,
        kind="text",
        text=SCHEDULED_TEXT,
        filter={},
        send_at=local.replace(hour=10, minute=0, second=0, microsecond=0),
    )
    return 2
