"""The factory insight report for one campaign: aggregates behind a privacy floor, never a fan.

Every cell (a variant-day, a tag share, a request phrase, an after-sales reason, a star bucket) is backed by
a count of distinct fans; one with fewer than FANSI_INSIGHT_K is left out (its value is null, or the row is
dropped) and `suppressed` counts them. No fan id, name or message leaves this module.
"""

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils.translation import get_language

from c2m.insight.phrases import Phrase, has_personal_data, names_pattern, normalise, request_phrases, segment
from core.zones import zone
from fans.chat.models import Fan, Message, MessageKind, Side
from fans.crm.models import FanTag, TagGroup
from preorders.models import AfterSalesRequest, Campaign, CampaignStatus, Pledge, PledgeStatus, Review
from preorders.selectors import campaign_variants_offered
from shops.models import Factory

# Demand with money in: a deposit paid (active, paused), the campaign won (confirmed) or the balance paid.
# A deposit charge still in flight (pending) and cancelled, lapsed or refunded pledges are not demand.
DEMAND_STATUSES = (PledgeStatus.ACTIVE, PledgeStatus.PAUSED, PledgeStatus.CONFIRMED, PledgeStatus.PAID)
CARD_KINDS = (MessageKind.PRODUCT_CARD, MessageKind.CAMPAIGN_CARD)
# A fan's messages right after a card of the product, until the next card, within this long, are about it.
CARD_FOLLOW = dt.timedelta(hours=24)
MAX_CARDS = 500
MAX_MESSAGES = 20_000
ATTRIBUTE_SPLIT = re.compile(r"[\s/·|,，+-]+")


def insight_k() -> int:
    return int(settings.FANSI_INSIGHT_K)


def factory_insight_campaigns(*, factory: Factory) -> QuerySet[Campaign]:
    """The launched campaigns made by this factory (their product is one of its factory products), the
    one with the most demand first; with them, the campaigns of design-round winners assigned to it."""
    return (
        Campaign.objects.filter(
            Q(factory_product__factory=factory) | Q(design_winner__round__factory=factory)
        )
        .distinct()
        .exclude(status=CampaignStatus.DRAFT)
        .select_related("shop", "product", "factory_product")
        .order_by("-committed_quantity", "-launched_at", "-pk")
    )


def _demand(campaign: Campaign, k: int) -> tuple[dict[str, Any], int]:
    pledges = Pledge.objects.filter(campaign=campaign, status__in=DEMAND_STATUSES)
    tz = zone(campaign.shop.timezone)
    daily = list(
        pledges.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("variant_id", "day")
        .annotate(units=Sum("quantity"), fans=Count("fan_id", distinct=True))
        .order_by("day")
    )
    totals = {
        r["variant_id"]: r
        for r in pledges.values("variant_id").annotate(
            units=Sum("quantity"), fans=Count("fan_id", distinct=True)
        )
    }
    days = sorted({r["day"] for r in daily})
    offered = {v.pk: v for v in campaign_variants_offered(campaign)}
    suppressed = 0
    cells: dict[int, dict[Any, int | None]] = defaultdict(dict)
    for r in daily:
        if r["fans"] >= k:
            cells[r["variant_id"]][r["day"]] = r["units"]
        else:
            cells[r["variant_id"]][r["day"]] = None
            suppressed += 1
    variants = []
    attribute_units: dict[tuple[int, str], int] = defaultdict(int)
    attribute_pledges: dict[tuple[int, str], set[int]] = defaultdict(set)
    for variant_id in sorted(
        set(offered) | set(totals), key=lambda pk: offered[pk].sku if pk in offered else ""
    ):
        variant = offered.get(variant_id)
        total = totals.get(variant_id)
        shown = total is not None and total["fans"] >= k
        if total is not None and not shown:
            suppressed += 1
        variants.append(
            {
                "variant": variant_id,
                "sku": variant.sku if variant else "",
                "name": variant.name if variant else "",
                "units": (total["units"] if shown else None) if total else 0,
                "series": [{"day": d.isoformat(), "units": cells[variant_id].get(d, 0)} for d in days],
            }
        )
        if variant is not None:
            for position, value in enumerate(v for v in ATTRIBUTE_SPLIT.split(variant.name) if v):
                attribute_units[(position, value)] += total["units"] if total else 0
                attribute_pledges[(position, value)].add(variant_id)
    # An attribute value (e.g. the size M of "M 黑" and "M 白") is a cell of its own: count its fans.
    attribute_fans = _attribute_fans(pledges, attribute_pledges)
    attributes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if max((p for p, _ in attribute_units), default=0) == 0:
        attribute_units.clear()  # one-word variant names: the attributes are the variants themselves
    for (position, value), units in sorted(attribute_units.items()):
        fans = attribute_fans.get((position, value), 0)
        if units and fans < k:
            suppressed += 1
        attributes[position].append({"value": value, "units": units if (not units or fans >= k) else None})
    fans_total = pledges.values("fan_id").distinct().count()
    out = {
        "days": [d.isoformat() for d in days],
        "variants": variants,
        "attributes": [{"position": p + 1, "values": vals} for p, vals in sorted(attributes.items())],
        "pledgers": fans_total if fans_total >= k else None,
    }
    return out, suppressed


def _attribute_fans(
    pledges: QuerySet[Pledge], attribute_variants: dict[tuple[int, str], set[int]]
) -> dict[tuple[int, str], int]:
    fans_by_variant: dict[int, set[int]] = defaultdict(set)
    for variant_id, fan_id in pledges.values_list("variant_id", "fan_id").distinct():
        fans_by_variant[variant_id].add(fan_id)
    return {
        cell: len(set().union(*(fans_by_variant.get(v, set()) for v in variants)))
        for cell, variants in attribute_variants.items()
    }


def _tag_portrait(campaign: Campaign, k: int) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Per tag group, each tag's share of the campaign's distinct pledgers (paid demand)."""
    fan_ids = Pledge.objects.filter(campaign=campaign, status__in=DEMAND_STATUSES).values("fan_id")
    total = Fan.objects.filter(pk__in=fan_ids).count()
    rows = (
        FanTag.objects.filter(fan_id__in=fan_ids)
        .values("group_id", "tag_id", "tag__code", "tag__name_zh", "tag__name_en")
        .annotate(fans=Count("fan_id", distinct=True))
        .order_by("group_id", "tag_id")
    )
    groups = {g.pk: g for g in TagGroup.objects.filter(pk__in={r["group_id"] for r in rows})}
    portrait: dict[str, dict[str, float]] = {}
    labels: dict[str, Any] = {}
    suppressed = 0
    for r in rows:
        if r["fans"] < k or total < k:
            suppressed += 1
            continue
        group = groups[r["group_id"]]
        portrait.setdefault(group.code, {})[r["tag__code"]] = round(r["fans"] / total, 3)
        entry = labels.setdefault(group.code, {"name": group.name, "tags": {}})
        entry["tags"][r["tag__code"]] = r["tag__name_en"] if _english() else r["tag__name_zh"]
    return portrait, labels, suppressed


def _english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


# Segments of a product's name too generic to say a message is about it.
GENERIC_WORDS = frozenset(
    "冬季 春季 夏季 秋季 春夏 秋冬 新款 新品 团购 预售 拼团 工厂 直供 系列 经典 爆款 正品 限量 商品 产品".split()
)


def _about_words(campaign: Campaign, *, generic: bool = True) -> list[str]:
    """Words that say which product a message is about: its names, their jieba segments ("羽绒服" of
    "冬季羽绒服") and variant names of two characters or more (one letter alone would match anything)."""
    names = [campaign.product.name]
    if campaign.factory_product_id:
        names.append(campaign.factory_product.name)
    words = {normalise(n) for n in names if n}
    for name in names:
        words.update(
            t for t in segment(normalise(name)) if len(t) >= 2 and (generic or t not in GENERIC_WORDS)
        )
    words.update(normalise(v.name) for v in campaign.product.variants.all() if len(v.name) >= 2)
    return sorted(words, key=len, reverse=True)


def _product_messages(campaign: Campaign) -> list[tuple[int, str]]:
    """(fan id, text) of fan-sent chat text about the campaign's product: mentioning it, or right after its
    product or campaign card in that conversation."""
    shop_id = campaign.shop_id
    texts = Message.objects.filter(conversation__shop_id=shop_id, side=Side.FAN, kind=MessageKind.TEXT)
    mention = Q()
    for word in _about_words(campaign, generic=False):
        mention |= Q(text__icontains=word)
    found: dict[int, tuple[int, str]] = {}
    matching = texts.filter(mention) if mention else texts.none()
    for pk, fan_id, text in matching.values_list("pk", "conversation__fan_id", "text")[:MAX_MESSAGES]:
        found[pk] = (fan_id, text)
    cards = list(
        Message.objects.filter(conversation__shop_id=shop_id, kind__in=CARD_KINDS)
        .filter(Q(payload__product=campaign.product_id) | Q(payload__campaign=campaign.pk))
        .values_list("conversation_id", "seq", "created_at")
        .order_by("-pk")[:MAX_CARDS]
    )
    if cards:
        conversations = {c for c, _, _ in cards}
        later_cards: dict[int, list[int]] = defaultdict(list)
        for conversation_id, seq in Message.objects.filter(
            conversation_id__in=conversations, kind__in=CARD_KINDS
        ).values_list("conversation_id", "seq"):
            later_cards[conversation_id].append(seq)
        after = Q()
        for conversation_id, seq, created_at in cards:
            bound = min((s for s in later_cards[conversation_id] if s > seq), default=None)
            window = Q(
                conversation_id=conversation_id,
                seq__gt=seq,
                created_at__lte=created_at + CARD_FOLLOW,
            )
            if bound is not None:
                window &= Q(seq__lt=bound)
            after |= window
        for pk, fan_id, text in texts.filter(after).values_list("pk", "conversation__fan_id", "text")[
            :MAX_MESSAGES
        ]:
            found[pk] = (fan_id, text)
    return list(found.values())


def _people(campaign: Campaign) -> re.Pattern[str] | None:
    """Names of the people in the shop (fans' display names and usernames, the team's usernames)."""
    names: list[str] = []
    for display, username in Fan.objects.filter(shop_id=campaign.shop_id).values_list(
        "display_name", "user__username"
    ):
        names += [display, username]
    names += list(campaign.shop.members.values_list("user__username", flat=True))
    names.append(campaign.shop.owner.username)
    return names_pattern(names)


def _requests(campaign: Campaign, k: int, people: re.Pattern[str] | None) -> tuple[list[dict[str, Any]], int]:
    about = _about_words(campaign)
    fans_by_key: dict[tuple[str, ...], set[int]] = defaultdict(set)
    quotes: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for fan_id, text in _product_messages(campaign):
        if has_personal_data(text, people):
            continue
        phrases: Iterable[Phrase] = request_phrases(text, ignore=about)
        for phrase in phrases:
            fans_by_key[phrase.key].add(fan_id)
            quotes[phrase.key][phrase.text] += 1
    out, suppressed = [], 0
    for key, fans in fans_by_key.items():
        if len(fans) < k:
            suppressed += 1
            continue
        # The group's most said wording (the shortest among equals) stands for it.
        phrase = min(quotes[key].items(), key=lambda item: (-item[1], len(item[0]), item[0]))[0]
        out.append({"phrase": phrase, "count": len(fans)})
    out.sort(key=lambda r: (-r["count"], r["phrase"]))
    return out, suppressed


def _after_sales(
    campaign: Campaign, k: int, people: re.Pattern[str] | None
) -> tuple[list[dict[str, Any]], int]:
    """After-sales requests on the product, by reason (as written, folded), counted by distinct fans."""
    fans: dict[str, set[int]] = defaultdict(set)
    for reason, fan_id in AfterSalesRequest.objects.filter(
        pledge__campaign__product=campaign.product
    ).values_list("reason", "pledge__fan_id"):
        folded = re.sub(r"[\s。.!！]+$", "", normalise(reason).strip())
        if folded and not has_personal_data(folded, people):
            fans[folded].add(fan_id)
    out, suppressed = [], 0
    for reason, who in sorted(fans.items(), key=lambda item: (-len(item[1]), item[0])):
        if len(who) < k:
            suppressed += 1
            continue
        out.append({"reason": reason, "count": len(who)})
    return out, suppressed


def _stars(campaign: Campaign, k: int) -> tuple[dict[str, int | None], int]:
    rows = {
        r["stars"]: r["fans"]
        for r in Review.objects.filter(product=campaign.product, hidden=False)
        .values("stars")
        .annotate(fans=Count("pledge__fan_id", distinct=True))
    }
    out: dict[str, int | None] = {}
    suppressed = 0
    for stars in range(1, 6):
        n = rows.get(stars, 0)
        if 0 < n < k:
            suppressed += 1
            out[str(stars)] = None
        else:
            out[str(stars)] = n
    return out, suppressed


def insight_report(*, campaign: Campaign) -> dict[str, Any]:
    """The per-variant insight report a factory gets for one campaign of its products (the board, the
    exports, a design round's winners): demand by variant and attribute over time, the pledgers' tag
    portrait, fans' requests in chat, after-sales reasons and review stars, each cell behind the k floor."""
    k = insight_k()
    demand, s1 = _demand(campaign, k)
    portrait, labels, s2 = _tag_portrait(campaign, k)
    people = _people(campaign)  # the names no quote may carry, built once
    requests, s3 = _requests(campaign, k, people)
    after_sales, s4 = _after_sales(campaign, k, people)
    stars, s5 = _stars(campaign, k)
    return {
        "campaign": {
            "id": campaign.pk,
            "title": campaign.title,
            "product": campaign.product.name,
            "factory_product": campaign.factory_product.name if campaign.factory_product_id else "",
            "status": campaign.status,
        },
        "k": k,
        **demand,
        "tag_portrait": portrait,
        "tag_labels": labels,
        "requests": requests,
        "after_sales": after_sales,
        "stars": stars,
        "suppressed": s1 + s2 + s3 + s4 + s5,
    }
