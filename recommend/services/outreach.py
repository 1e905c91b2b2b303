"""Outreach: acting on recommendations (a product card to a fan, a product's likeliest fans as a segment)."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Conflict
from fans.chat.models import Fan, Message, MessageKind
from fans.chat.services import message_send
from fans.crm.models import Segment
from fans.crm.services.fans import segment_create
from recommend.serving import fans_for_product
from shops.models import Product, ShopMember


def recommendation_send(
    *, user: AbstractBaseUser, fan: Fan, product_id: int, reason: str = "", client_id: uuid.UUID | None = None
) -> tuple[Message, bool]:
    """Send a recommended product to the fan as a product card in their conversation (staff only, as
    message_send checks). Resending a client_id returns the first message."""
    conversation = getattr(fan, "conversation", None)
    if conversation is None:
        raise Conflict(_("This fan has no conversation yet."), code="no_conversation")
    return message_send(
        user=user,
        conversation_id=conversation.pk,
        client_id=client_id or uuid.uuid4(),
        kind=MessageKind.PRODUCT_CARD,
        payload={"product": product_id, "reason": reason},
    )


def likely_fans_segment_save(
    *, member: ShopMember, product: Product, name: str, k: int
) -> tuple[Segment, int]:
    """Save the product's `k` likeliest fans as a segment of explicit fans. Returns (segment, fan count)."""
    fan_ids = [p.fan.pk for p in fans_for_product(product, k)]
    with transaction.atomic():
        segment = segment_create(member=member, name=name, filter={"fan_ids": fan_ids})
        if segment.filter.get("fan_ids") != sorted(fan_ids):
            # Without the fan_ids filter key a segment would silently mean "every fan": refuse, storing nothing.
            raise Conflict(_("Segments of explicit fans are not supported here."), code="fan_ids_unsupported")
    return segment, len(fan_ids)
