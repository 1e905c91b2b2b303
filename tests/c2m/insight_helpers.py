"""Fixtures for the insight report tests: a factory's campaign, its paid pledgers and their chat."""

from decimal import Decimal

from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
from preorders.models import Campaign, Pledge, PledgeStatus
from shops.models import Variant
from tests.factories import FanFactory


def pledge(campaign: Campaign, fan: Fan, variant: Variant, *, quantity: int = 1, status: str = "") -> Pledge:
    """A pledge with its deposit paid (the report reads pledges; placing them is tested in preorders)."""
    return Pledge.objects.create(
        campaign=campaign,
        fan=fan,
        user=fan.user,
        variant=variant,
        variant_name=variant.name,
        sku=variant.sku,
        quantity=quantity,
        unit_price=variant.price,
        deposit_amount=Decimal("10.00"),
        status=status or PledgeStatus.ACTIVE,
    )


def say(fan: Fan, text: str, *, side: str = Side.FAN, kind: str = MessageKind.TEXT, payload=None) -> Message:
    conversation = Conversation.objects.get(fan=fan)
    seq = (conversation.messages.order_by("-seq").values_list("seq", flat=True).first() or 0) + 1
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=seq)
    return Message.objects.create(
        conversation=conversation, seq=seq, side=side, kind=kind, text=text, payload=payload or {}
    )


def fans(shop, n: int, *, start: int = 0) -> list[Fan]:
    return [FanFactory(shop=shop, display_name=f"测试粉{start + i:03d}") for i in range(n)]
