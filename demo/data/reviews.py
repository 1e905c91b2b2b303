"""Reviews of the shipped demo campaign: three of its five delivered orders reviewed (stars 3-5, Chinese text,
one with the owner's public reply, one showing the fan's name), two left for the fan to review."""

from demo.data.money import SHIPPED_TITLE
from preorders.models import Campaign, Review, ShipmentItem
from preorders.services.reviews import review_create, review_reply

REVIEWS = [
    (5, "面料很轻薄，版型好看，通勤穿刚刚好，团购价很划算！", True, "谢谢亲的支持～下次上新第一时间通知你"),
    (4, "整体不错，就是袖子稍微有点长，建议出个短袖版", False, ""),
    (3, "袖口有线头，客服处理得挺快，面料还可以", False, "抱歉给您添麻烦了，已经反馈工厂加强质检"),
]


def demo_reviews_ensure() -> int:
    """Returns how many demo reviews exist for the shipped campaign (a second run adds none)."""
    campaign = (
        Campaign.objects.filter(shop__slug="shop1", title=SHIPPED_TITLE).select_related("shop__owner").first()
    )
    if campaign is None:
        return 0
    existing = Review.objects.filter(pledge__campaign=campaign).count()
    if existing:
        return existing
    delivered = list(
        ShipmentItem.objects.filter(pledge__campaign=campaign, shipment__status="delivered")
        .select_related("pledge__user")
        .order_by("pledge_id")
    )
    for item, (stars, text, show_name, reply) in zip(delivered, REVIEWS, strict=False):
        review = review_create(
            user=item.pledge.user, pledge_id=item.pledge_id, stars=stars, text=text, show_name=show_name
        )
        if reply:
            review_reply(user=campaign.shop.owner, review_id=review.pk, text=reply)
    return Review.objects.filter(pledge__campaign=campaign).count()
