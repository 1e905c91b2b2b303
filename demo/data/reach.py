"""Reach in the demo: shop1's unanswered digest at 20 minutes, and follow-up reminders on the owner's
conversations (one due now, so the inbox's 跟进提醒 chip has one; two ahead), and a product card deferred
past a fan's quiet hours in the owner's latest conversation. Devices cannot be demoed (a
push subscription belongs to a real browser), but the notification switch shows on every chat page and in
the inbox. Idempotent: the owner's reminders are made once."""

import datetime as dt
import uuid

from django.utils import timezone

from fans.bot.services.budget import quiet_hours_end
from fans.chat.models import Conversation
from reach.models import DigestSettings, Reminder, ReminderStatus, ScheduledMessage
from shops.models import Product, Shop

REMINDERS = (
    # (days ahead, or None for one already due; cancel if the fan writes first; the note)
    (None, False, "问问上次的面霜用得怎么样，顺便推荐新到的精华"),
    (1, True, "她说发工资再买，明天提醒一下"),
    (3, True, "试用装寄出三天了，回访一下肤感"),
)


def demo_reach_ensure() -> int:
    shop = Shop.objects.filter(slug="shop1").first()
    if shop is None:
        return 0
    DigestSettings.objects.get_or_create(shop=shop, defaults={"unanswered_after_minutes": 20})
    owner = shop.owner
    _demo_deferred_card(shop)
    if Reminder.objects.filter(user=owner, conversation__shop=shop).exists():
        return 0
    conversations = list(
        Conversation.objects.filter(shop=shop).order_by("-activity_at", "pk")[: len(REMINDERS)]
    )
    now = timezone.now()
    made = 0
    for conversation, (days, cancel_on_reply, note) in zip(conversations, REMINDERS, strict=False):
        due = days is None
        Reminder.objects.create(
            conversation=conversation,
            user=owner,
            remind_at=now - dt.timedelta(minutes=30) if due else now + dt.timedelta(days=days),
            cancel_on_reply=cancel_on_reply,
            note=note,
            status=ReminderStatus.FIRED if due else ReminderStatus.PENDING,
            created_at=now - dt.timedelta(days=2),
            fired_at=now - dt.timedelta(minutes=30) if due else None,
        )
        made += 1
    return made


def _demo_deferred_card(shop: Shop) -> None:
    """A product card the owner sent one fan in her quiet hours: it waits in the conversation's "Send later"
    list for their end (issue 16: deferred, not refused)."""
    if ScheduledMessage.objects.filter(conversation__shop=shop, kind="product_card").exists():
        return
    conversation = Conversation.objects.filter(shop=shop).order_by("-activity_at", "pk").first()
    product = Product.objects.filter(shop=shop).order_by("pk").first()
    if conversation is None or product is None:
        return
    now = timezone.now()
    ScheduledMessage.objects.create(
        conversation=conversation,
        author=shop.owner,
        kind="product_card",
        payload={"product": product.pk},
        text="",
        send_at=quiet_hours_end(shop, now),
        asked_at=now - dt.timedelta(minutes=20),
        client_id=uuid.uuid4(),
    )
