"""What a fan is told about the steps of their pledge: a notice and an order card in their chat, once per
(pledge, step), one by one or for many pledges in one batched append."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fans.chat.models import Conversation, MessageKind
from fans.chat.services import system_message_post
from preorders.models import (
    Pledge,
    PledgeNotice,
)

# --- what the fan is told ------------------------------------------------------------------------------


def order_card(pledge: Pledge, what: str) -> dict[str, Any]:
    """The chat card of a pledge's money step (balance due, paid, lapsed...): one tap to "my orders"."""
    campaign = pledge.campaign
    card: dict[str, Any] = {
        "card": what,
        "pledge": pledge.pk,
        "campaign": campaign.pk,
        "title": campaign.title,
        "variant_name": pledge.variant_name,
        "quantity": pledge.quantity,
        "currency": pledge.currency,
        "url": f"/me/orders/#pledge-{pledge.pk}",
    }
    if what in ("balance_due", "balance_reminder", "balance_failed"):
        card.update(
            {
                "amount": str(pledge.balance_due),
                "deadline": campaign.balance_deadline.isoformat() if campaign.balance_deadline else None,
                "action": "pay_balance",
            }
        )
    return card


_TEXTS = {
    "balance_due": "「%(title)s」成团啦！请在 %(deadline)s 前支付尾款 ¥%(amount)s。",
    "balance_reminder": "提醒：「%(title)s」的尾款 ¥%(amount)s 将于 %(deadline)s 截止，逾期定金将按规则处理。",
    "balance_paid": "「%(title)s」尾款已付清，工厂将按已付款数量生产。",
    "balance_failed": "「%(title)s」尾款支付未成功，请重试。",
    "lapsed_forfeit": "「%(title)s」尾款未在截止前支付，订单已失效，定金按活动规则不予退还。",
    "lapsed_refund": "「%(title)s」尾款未在截止前支付，订单已失效，定金已原路退回。",
}


def fan_text(pledge: Pledge, what: str) -> str:
    campaign = pledge.campaign
    deadline = (
        timezone.localtime(campaign.balance_deadline).strftime("%m-%d %H:%M")
        if campaign.balance_deadline
        else "-"
    )
    return _(_TEXTS[what]) % {"title": campaign.title, "amount": pledge.balance_due, "deadline": deadline}


def pledge_tell(
    *,
    pledge_id: int,
    what: str,
    key: str = "",
    text: Any = None,
    card: dict[str, Any] | None = None,
) -> bool:
    """Post the notice and its card to the fan's chat once per (pledge, what, key); safe to rerun.

    `text` (a callable of the pledge, for steps outside fan_text) and `card` (fields added to the order
    card) serve the other steps of an order: shipments, compensation, after-sales."""
    pledge = Pledge.objects.select_related("campaign").filter(pk=pledge_id).first()
    if pledge is None:
        return False
    conversation = Conversation.objects.filter(fan_id=pledge.fan_id).first()
    with transaction.atomic(durable=True):
        _notice, created = PledgeNotice.objects.get_or_create(pledge=pledge, kind=f"{what}{key}"[:40])
        if not created or conversation is None:
            return False
        body = text(pledge) if text is not None else fan_text(pledge, what)
        system_message_post(conversation=conversation, text=body)
        system_message_post(
            conversation=conversation,
            text=body,
            kind=MessageKind.ORDER_CARD,
            payload={**order_card(pledge, what), **(card or {})},
        )
    return True


def pledges_tell_many(*, pledge_ids: list[int], what: str) -> int:
    """pledge_tell for many pledges (the standard texts) in one transaction and one batched append: the
    pledges are locked in id order, so two runs over the same ids tell each fan once. Returns how many."""
    from fans.chat.append import NewMessage, conversations_lock, messages_append
    from fans.chat.models import Side

    if not pledge_ids:
        return 0
    with transaction.atomic(durable=True):
        pledges = list(
            Pledge.objects.select_for_update(of=("self",))
            .select_related("campaign")
            .filter(pk__in=pledge_ids)
            .order_by("pk")
        )
        told = set(
            PledgeNotice.objects.filter(pledge_id__in=pledge_ids, kind=what).values_list(
                "pledge_id", flat=True
            )
        )
        pledges = [p for p in pledges if p.pk not in told]
        if not pledges:
            return 0
        PledgeNotice.objects.bulk_create(
            [PledgeNotice(pledge=p, kind=what) for p in pledges], batch_size=2000
        )
        locked = conversations_lock(fan_ids=[p.fan_id for p in pledges])
        by_fan = {c.fan_id: c for c in locked.values()}
        entries = []
        for p in pledges:
            conversation = by_fan.get(p.fan_id)
            if conversation is None:
                continue
            text = fan_text(p, what)
            # One message: the order card carries the notice's text (chat.js shows it in the card).
            entries.append(
                NewMessage(
                    conversation=conversation,
                    side=Side.SYSTEM,
                    kind=MessageKind.ORDER_CARD,
                    text=text,
                    payload=order_card(p, what),
                )
            )
        messages_append(entries)
    return len(pledges)


def pledges_tell(*, campaign_id: int, status: str, what: str, batch: int = 200) -> int:
    """Tell up to `batch` not-yet-told pledges of a campaign in `status`; returns how many remain."""
    told = PledgeNotice.objects.filter(pledge__campaign_id=campaign_id, kind=what).values("pledge_id")
    ids = list(
        Pledge.objects.filter(campaign_id=campaign_id, status=status)
        .exclude(pk__in=told)
        .order_by("pk")
        .values_list("pk", flat=True)[: batch + 1]
    )
    for pid in ids[:batch]:
        pledge_tell(pledge_id=pid, what=what)
    return max(0, len(ids) - batch)
