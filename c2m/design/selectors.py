"""Reads of design rounds: votes per combination against the target, the campaigns made, the forecast before
launch, and the fans' chat suggestions linked to the round."""

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Q

from c2m.design import rules
from c2m.design.models import DesignComment, DesignRound, DesignWinner, RoundStatus
from c2m.design.services import tally
from fans.chat.models import Message, MessageKind, Side

CARD_KINDS = (MessageKind.PRODUCT_CARD, MessageKind.CAMPAIGN_CARD)
# A fan's messages right after a card of the round's product, within this long, are suggestions for it.
CARD_FOLLOW = dt.timedelta(hours=24)
# Chat from this long before the round opened still counts (what fans asked for led to the round).
LOOKBACK = dt.timedelta(days=30)
MAX_SUGGESTIONS = 50


def round_votes(rnd: DesignRound) -> list[dict[str, Any]]:
    """Every combination with its paid votes and the target, in the owner's order."""
    counts = tally(rnd)
    winners = {w.combination_key: w for w in rnd.winners.all()}
    out = []
    for combo in rules.combinations(rnd.ordered_attributes):
        key = rules.combination_key(combo)
        n = counts.get(key, 0)
        winner = winners.get(key)
        out.append(
            {
                "combination": dict(sorted(combo.items())),
                "label": rules.combination_label(combo, rnd.ordered_attributes),
                "votes": n,
                "target": rnd.target_per_combination,
                "percent": min(100, round(100 * n / rnd.target_per_combination)),
                "reached": n >= rnd.target_per_combination,
                "campaign": winner.campaign_id if winner else None,
            }
        )
    return out


def round_campaigns(rnd: DesignRound) -> list[int]:
    return list(
        DesignWinner.objects.filter(round=rnd, campaign__isnull=False)
        .order_by("pk")
        .values_list("campaign_id", flat=True)
    )


def round_to_dict(rnd: DesignRound) -> dict[str, Any]:
    return {
        "id": rnd.pk,
        "shop": rnd.shop_id,
        "product": rnd.product_id,
        "title": rnd.title,
        "description": rnd.description,
        "attributes": rnd.ordered_attributes,
        "target_per_combination": rnd.target_per_combination,
        "vote_deposit": str(rnd.vote_deposit),
        "currency": rnd.product.currency,
        "deadline": rnd.deadline.isoformat(),
        "status": rnd.status,
        "launched_at": rnd.launched_at.isoformat() if rnd.launched_at else None,
        "decided_at": rnd.decided_at.isoformat()
        if rnd.decided_at and rnd.status == RoundStatus.DECIDED
        else None,
        "votes": round_votes(rnd),
        "campaigns": round_campaigns(rnd) if rnd.status == RoundStatus.DECIDED else [],
        "factory": rnd.factory_id,
        "comments": DesignComment.objects.filter(round=rnd).count(),
    }


def round_summary(rnd: DesignRound) -> dict[str, Any]:
    return {
        "id": rnd.pk,
        "shop": rnd.shop_id,
        "product": rnd.product_id,
        "title": rnd.title,
        "status": rnd.status,
        "deadline": rnd.deadline.isoformat(),
        "vote_deposit": str(rnd.vote_deposit),
        "target_per_combination": rnd.target_per_combination,
    }


def comments_of(rnd: DesignRound) -> list[dict[str, Any]]:
    return [
        {
            "id": c.pk,
            "text": c.text,
            "by": (c.fan.display_name if c.fan else c.user.username) if not c.is_staff else rnd.shop.name,
            "is_staff": c.is_staff,
            "created_at": c.created_at,
        }
        for c in DesignComment.objects.filter(round=rnd)
        .select_related("fan", "user")
        .order_by("created_at", "pk")[:200]
    ]


def _about_words(rnd: DesignRound) -> list[str]:
    words = {rnd.title, rnd.product.name}
    for options in rnd.ordered_attributes.values():
        words.update(o for o in options if len(o) >= 2)
    return sorted((w for w in words if len(w) >= 2), key=len, reverse=True)


def round_suggestions(rnd: DesignRound) -> list[dict[str, Any]]:
    """Fans' chat texts about the round: mentioning its title, product or an option, or sent within a day
    after a card of its product in that conversation (as the insight report picks a product's messages).
    For the shop's team only (who see their fans' chats anyway)."""
    since = (rnd.launched_at or rnd.created_at) - LOOKBACK
    texts = Message.objects.filter(
        conversation__shop_id=rnd.shop_id, side=Side.FAN, kind=MessageKind.TEXT, created_at__gte=since
    )
    mention = Q()
    for word in _about_words(rnd):
        mention |= Q(text__icontains=word)
    found: dict[int, Any] = {}
    rows = ("pk", "text", "created_at", "conversation__fan__display_name")
    for row in texts.filter(mention).values_list(*rows).order_by("-pk")[:MAX_SUGGESTIONS]:
        found[row[0]] = row
    cards = list(
        Message.objects.filter(conversation__shop_id=rnd.shop_id, kind__in=CARD_KINDS, created_at__gte=since)
        .filter(Q(payload__product=rnd.product_id) | Q(payload__design_round=rnd.pk))
        .values_list("conversation_id", "seq", "created_at")
        .order_by("-pk")[:200]
    )
    if cards:
        later: dict[int, list[int]] = defaultdict(list)
        for conversation_id, seq in Message.objects.filter(
            conversation_id__in={c for c, _, _ in cards}, kind__in=CARD_KINDS
        ).values_list("conversation_id", "seq"):
            later[conversation_id].append(seq)
        after = Q()
        for conversation_id, seq, created_at in cards:
            window = Q(conversation_id=conversation_id, seq__gt=seq, created_at__lte=created_at + CARD_FOLLOW)
            bound = min((s for s in later[conversation_id] if s > seq), default=None)
            if bound is not None:
                window &= Q(seq__lt=bound)
            after |= window
        for row in texts.filter(after).values_list(*rows).order_by("-pk")[:MAX_SUGGESTIONS]:
            found[row[0]] = row
    ordered = sorted(found.values(), key=lambda r: r[2], reverse=True)[:MAX_SUGGESTIONS]
    return [{"id": pk, "text": text, "at": at.isoformat(), "fan": name} for pk, text, at, name in ordered]


def round_forecast(rnd: DesignRound) -> list[dict[str, Any]]:
    """Votes (units) expected per combination with the 80% interval (c2m.forecast)."""
    from c2m.forecast.services import forecast_combinations

    combos = rules.combinations(rnd.ordered_attributes)
    rows = forecast_combinations(shop=rnd.shop, product=rnd.product, combinations=combos)
    for row in rows:
        row["label"] = rules.combination_label(row["combination"], rnd.ordered_attributes)
    return rows
