"""Interactions: what a fan did with a product (pledges, purchases, card clicks), the recommender's signal."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Invalid, NotFound
from fans.chat.access import access_conversation
from fans.chat.models import Fan, Message, MessageKind, Side
from recommend.models import KIND_WEIGHTS, Interaction, InteractionKind
from shops.models import Product


def interaction_record(
    *, fan: Fan, product: Product, kind: str, key: str = "", weight: float | None = None
) -> tuple[Interaction, bool]:
    """Record that a fan did something with a product. With a `key`, recording twice stores one row.

    Joins the caller's transaction (preorders calls it inside pledge placement).
    """
    if kind not in InteractionKind.values:
        raise Invalid(_("Unknown interaction kind."))
    if product.shop_id != fan.shop_id:
        raise Invalid(_("That product is not in this fan's shop."), code="not_found")
    weight = KIND_WEIGHTS[kind] if weight is None else float(weight)
    if not weight > 0:
        raise Invalid(_("An interaction weight must be positive."))
    key = (key or "")[:64]
    if key:
        # One plain INSERT ... ON CONFLICT DO NOTHING: pledge placement calls this on its hot path.
        interaction = Interaction(
            shop_id=fan.shop_id,
            fan=fan,
            product=product,
            kind=kind,
            weight=weight,
            key=key,
            created_at=timezone.now(),
        )
        connection = transaction.get_connection()
        fields = [
            Interaction._meta.get_field(n)
            for n in ("shop", "fan", "product", "kind", "weight", "key", "created_at")
        ]
        values = [f.get_db_prep_save(getattr(interaction, f.attname), connection) for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Interaction._meta.db_table} ({', '.join(f.column for f in fields)}) "
                f"VALUES ({', '.join(['%s'] * len(fields))}) "
                f"ON CONFLICT (fan_id, kind, key) WHERE NOT (key = '') DO NOTHING RETURNING id",
                values,
            )
            row = cursor.fetchone()
        if row is None:
            return Interaction.objects.get(fan=fan, kind=kind, key=key), False
        interaction.pk = row[0]
        return interaction, True
    return Interaction.objects.create(
        shop_id=fan.shop_id, fan=fan, product=product, kind=kind, weight=weight
    ), True


def card_click_record(*, user: AbstractBaseUser, message_id: Any) -> tuple[Interaction, bool]:
    """A fan tapped a product card in their conversation. Only that fan may record it; once per card."""
    try:
        message_pk = int(message_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    message = Message.objects.filter(pk=message_pk).only("pk", "conversation_id", "kind", "payload").first()
    if message is None:
        raise NotFound()
    conversation, side = access_conversation(user, message.conversation_id)
    if side != Side.FAN:
        raise NotFound()
    if message.kind != MessageKind.PRODUCT_CARD:
        raise Invalid(_("Only product cards can be clicked."), code="not_a_product_card")
    product = Product.objects.filter(
        pk=(message.payload or {}).get("product"), shop_id=conversation.shop_id
    ).first()
    if product is None:
        raise NotFound(_("That product is gone."))
    with transaction.atomic():
        return interaction_record(
            fan=conversation.fan,
            product=product,
            kind=InteractionKind.CARD_CLICK,
            key=f"message:{message.pk}",
        )
