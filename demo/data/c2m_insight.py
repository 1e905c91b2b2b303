"""Demo insight report: the down jacket's live group pre-order (冬季羽绒服拼团预售, made by 宁波暖冬服饰厂) gets
pledges over three days and fans' requests in chat, so the factory's board shows a chart, a request list with
phrases at or above the k floor (能不能出大码, 颜色太少, 加长款) and some below it that stay hidden (帽子可拆
from four fans, a quote with a phone number).

Idempotent: pledges by Idempotency-Key, chat messages by client id, dates moved only on rows this run wrote,
so a second run stores nothing new. A conversation only gets a message while it has room for it (the demo's
conversations keep at most nine messages).
"""

import datetime as dt
import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from demo.data.chat import seeding_rate_limit_off
from demo.data.people import fan_username
from fans.chat.models import Conversation, Message, Side
from fans.chat.services import message_send
from preorders.models import Campaign, Pledge
from preorders.services import pledge_place

TITLE = "冬季羽绒服拼团预售"
NAMESPACE = uuid.UUID("0b7d3c55-1f0e-4c7a-9d1b-6a2f4e8c9b31")
MAX_MESSAGES = 9  # the demo's conversations hold 2-9 messages (tests/demo keeps to it)

# fan number -> what they write (one message each, some with two requests).
REQUESTS: dict[int, str] = {
    **{n: "羽绒服能不能出大码？" for n in range(1, 6)},
    **{n: "这件羽绒服有没有大码呀，颜色太少了" for n in range(6, 12)},
    **{n: "希望羽绒服出个大码，能不能出加长款" for n in range(12, 21)},
    **{n: "羽绒服颜色太少了，希望有加长款的" for n in range(21, 29)},
    **{n: "羽绒服颜色太少了" for n in range(29, 34)},
    **{n: "羽绒服帽子希望可拆" for n in range(34, 38)},  # four fans: below k, hidden
    38: "羽绒服能不能出大码 我电话13800001111",  # a phone number: never quoted or counted
    **{n: "羽绒服能不能出加长款" for n in range(39, 41)},
}
# fan number range -> (variant index, days before today the pledge is dated).
PLEDGES = [(range(13, 25), 1, 2), (range(25, 37), 1, 1), (range(37, 41), 2, 0)]


def _pledges(campaign: Campaign, now: dt.datetime) -> None:
    user_model = get_user_model()
    variants = list(campaign.product.variants.order_by("pk"))
    if len(variants) < 3:
        return
    # The campaign launched three days ago, so the pledges below can be spread over those days.
    start = now - dt.timedelta(days=3)
    Campaign.objects.filter(pk=campaign.pk, launched_at__gt=start + dt.timedelta(days=1)).update(
        launched_at=start, created_at=start
    )
    for numbers, variant_index, days_ago in PLEDGES:
        for n in numbers:
            user = user_model.objects.filter(username=fan_username(n)).first()
            if user is None:
                continue
            body, _ = pledge_place(
                user=user,
                campaign_id=campaign.pk,
                variant_id=variants[variant_index].pk,
                quantity=1 + n % 2,
                idempotency_key=f"demo-insight-{campaign.pk}-{n}",
            )
            if days_ago:
                # Only a pledge this run wrote (dated today) moves back.
                Pledge.objects.filter(pk=body["id"], created_at__gt=now - dt.timedelta(hours=12)).update(
                    created_at=now - dt.timedelta(days=days_ago, hours=n % 5)
                )


def _requests(campaign: Campaign) -> None:
    conversations = {
        c.fan.user.username: c
        for c in Conversation.objects.filter(
            shop=campaign.shop, fan__user__username__in=[fan_username(n) for n in REQUESTS]
        )
        # A conversation a broadcast reached keeps its inbox time (the broadcast moved nobody up).
        .exclude(fan__promo_deliveries__isnull=False)
        .select_related("fan__user")
    }
    with seeding_rate_limit_off():
        for n, text in REQUESTS.items():
            conversation = conversations.get(fan_username(n))
            if conversation is None:
                continue
            client_id = uuid.uuid5(NAMESPACE, f"{campaign.pk}/{n}")
            if Message.objects.filter(conversation=conversation, client_id=client_id).exists():
                continue
            history = conversation.messages.exclude(side=Side.SYSTEM)
            last = history.order_by("-seq").first()
            if last is None or history.count() >= MAX_MESSAGES:
                continue
            message, created = message_send(
                user=conversation.fan.user, conversation_id=conversation.pk, client_id=client_id, text=text
            )
            if created:
                # Right after the conversation's last message, as if said then: the inbox order stays.
                at = last.created_at + dt.timedelta(minutes=2)
                with transaction.atomic():
                    Message.objects.filter(pk=message.pk).update(created_at=at)
                    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=at, activity_at=at)


def demo_insight_ensure() -> int | None:
    """Make the factory insight report of the demo's live jacket campaign non-empty; returns its id."""
    campaign = (
        Campaign.objects.filter(shop__slug="shop1", title=TITLE, factory_product__isnull=False)
        .select_related("shop", "product")
        .first()
    )
    if campaign is None:
        return None
    _pledges(campaign, timezone.now())
    _requests(campaign)
    return campaign.pk
