"""Scheduled broadcasts: the send time's rules, whether one is still waiting, and editing it until it starts."""

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Invalid
from core.jobs import JobStatus
from fans.bot.models import Broadcast
from fans.chat.append import text_check
from fans.chat.cards import card_build
from fans.chat.models import MessageKind
from fans.crm.services.common import audit
from shops.models import Shop, ShopMember
from shops.roles import require_managing

# A broadcast may be scheduled from 30 seconds to 90 days ahead.
SEND_AT_MIN = dt.timedelta(seconds=30)
SEND_AT_MAX = dt.timedelta(days=90)


def broadcast_message_clean(
    shop: Shop, kind: str, *, text: str = "", product: int | None = None, campaign: int | None = None
) -> tuple[str, dict[str, Any]]:
    card: dict[str, Any] = {}
    if kind == MessageKind.TEXT:
        text = (text or "").strip()
        text_check(text)
    elif kind == MessageKind.PRODUCT_CARD:
        card = card_build(kind, shop, {"product": product})
    elif kind == MessageKind.CAMPAIGN_CARD:
        card = card_build(kind, shop, {"campaign": campaign})
    else:
        raise Invalid(_("A broadcast is a text, a product card or a campaign card."))
    return text, card


def send_at_check(send_at: dt.datetime) -> None:
    now = timezone.now()
    if send_at < now + SEND_AT_MIN:
        raise Invalid(_("The send time has passed; choose a time in the future."), code="send_at_past")
    if send_at > now + SEND_AT_MAX:
        raise Invalid(_("A broadcast can be scheduled at most 90 days ahead."), code="send_at_too_far")


def broadcast_waiting(broadcast: Broadcast, now: dt.datetime | None = None) -> bool:
    """Scheduled and not started: no worker or beat has taken it, so it may still be edited."""
    return (
        broadcast.status == JobStatus.QUEUED
        and broadcast.scheduled_at is not None
        and broadcast.heartbeat_at == broadcast.scheduled_at
        and not broadcast.cancel_requested
    )


def broadcast_update(
    *,
    member: ShopMember,
    broadcast: Broadcast,
    text: str | None = None,
    product: int | None = None,
    campaign: int | None = None,
    send_at: dt.datetime | None = None,
) -> Broadcast:
    """Edit a scheduled broadcast (its message or its time) until it starts."""
    require_managing(member, _("Only owners and managers send broadcasts."))
    if send_at is not None:
        send_at_check(send_at)
    with transaction.atomic():
        current = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        # A beat that took it between our read and our lock has moved heartbeat_at: refused below.
        if not broadcast_waiting(current) or current.scheduled_at <= timezone.now():
            raise Invalid(
                _("This broadcast has started or finished; only a scheduled one can be edited."),
                code="broadcast_started",
            )
        changes: dict[str, Any] = {}
        if text is not None or product is not None or campaign is not None:
            changes["text"], changes["card"] = broadcast_message_clean(
                current.shop,
                current.kind,
                text=current.text if text is None else text,
                product=product,
                campaign=campaign,
            )
            if current.kind != MessageKind.TEXT and product is None and campaign is None:
                changes["card"] = current.card
        if send_at is not None:
            changes["scheduled_at"] = changes["heartbeat_at"] = send_at
        if not changes:
            raise Invalid(_("Nothing to change: give text, a card or send_at."), code="nothing_to_change")
        Broadcast.objects.filter(pk=current.pk).update(**changes)
        audit(
            shop=member.shop,
            actor=member.user,
            action="broadcast.edit",
            broadcast=current.pk,
            **({"at": send_at.isoformat()} if send_at else {}),
        )
    broadcast.refresh_from_db()
    return broadcast
