"""红黑榜 services: rate an entity (an upsert per shop), weigh it by sales evidence, score it, list the board.

Score: the Wilson lower bound (z = 1.96) on the weighted red share, the weighted sums standing in for counts.
A rating weighs 1 + log1p(delivered units) + log1p(after-sales requests) of the rating shop for the entity's
products (shops.hooks.rating_evidence, filled by preorders), so a shop that sold it counts for more.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from core.errors import Forbidden, Invalid, NotFound
from core.limits import MANAGING_ROLES
from shops import hooks
from shops.models import Factory, FactoryProduct, Product, ShopMember
from shops.rating_models import EntityType, Rating, RatingReason, RatingScore, RatingStatus, Verdict

TEXT_MAX = 1000
Key = tuple[str, str]


def conf(name: str) -> Any:
    return settings.FANSI_RATINGS[name]


def wilson_lower(positive: float, n: float, z: float = 1.96) -> float:
    if n <= 0:
        return 0.0
    p = min(max(positive / n, 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def resolve_entity(entity_type: str, entity_id: Any) -> tuple[str, str, str]:
    """(entity_id, name, category) of an existing entity; NotFound `entity_not_found` otherwise."""
    key = str(entity_id or "").strip()
    missing = NotFound(_("There is no such product, brand, factory or origin."), code="entity_not_found")
    if not key or len(key) > 200:
        raise missing
    if entity_type in (EntityType.PRODUCT, EntityType.FACTORY):
        if not key.isdigit():
            raise missing
        if entity_type == EntityType.PRODUCT:
            row = Product.objects.filter(pk=int(key)).values_list("name", "category").first()
        else:
            name = Factory.objects.filter(pk=int(key)).values_list("name", flat=True).first()
            cat = (
                FactoryProduct.objects.filter(factory_id=int(key)).values_list("category", flat=True).first()
            )
            row = (name, cat or "") if name is not None else None
    elif entity_type == EntityType.BRAND:
        cat = Product.objects.filter(brand=key).values_list("category", flat=True).first()
        row = (key, cat) if cat is not None else None
    else:
        cat = FactoryProduct.objects.filter(origin=key).values_list("category", flat=True).first()
        row = (key, cat) if cat is not None else None
    if row is None:
        raise missing
    return key, row[0], row[1]


def _entity_products(shop_id: int, entity_type: str, entity_id: str) -> list[int]:
    """The rating shop's own products that the entity covers (the ones it can have sold)."""
    qs = Product.objects.filter(shop_id=shop_id)
    if entity_type == EntityType.PRODUCT:
        qs = qs.filter(pk=int(entity_id))
    elif entity_type == EntityType.BRAND:
        qs = qs.filter(brand=entity_id)
    elif entity_type == EntityType.FACTORY:
        qs = qs.filter(factory_product__factory_id=int(entity_id))
    else:
        qs = qs.filter(factory_product__origin=entity_id)
    return list(qs.values_list("pk", flat=True))


def rating_weight(shop_id: int, entity_type: str, entity_id: str) -> float:
    products = _entity_products(shop_id, entity_type, entity_id)
    if not products:
        return 1.0
    delivered = after_sales = 0
    for provider in hooks.rating_evidence.providers():
        for units, requests in provider(shop_id, products).values():
            delivered += units
            after_sales += requests
    return 1.0 + math.log1p(delivered) + math.log1p(after_sales)


def rate(*, user: Any, data: dict[str, Any]) -> tuple[Rating, bool]:
    """Upsert the caller's shop's rating of one entity: owners and managers only. (rating, created)."""
    memberships = ShopMember.objects.filter(user=user, is_active=True) if user.is_authenticated else None
    if memberships is None or not memberships.exists():
        raise Forbidden(_("Only shop owners and managers rate in the red/black list."))
    shop_id = data.get("shop")
    if shop_id not in (None, ""):
        try:
            memberships = memberships.filter(shop_id=int(shop_id))
        except (TypeError, ValueError):
            raise Invalid(_("shop must be an id."), code="shop_invalid") from None
    member = memberships.order_by("shop_id").first()
    if member is None:
        raise NotFound()
    if member.role not in MANAGING_ROLES:
        raise Forbidden(_("Only shop owners and managers rate in the red/black list."), code="role_forbidden")
    entity_type = data.get("entity_type")
    if entity_type not in EntityType.values:
        raise Invalid(_("entity_type must be product, brand, factory or origin."), code="entity_type_invalid")
    verdict = data.get("verdict")
    if verdict not in Verdict.values:
        raise Invalid(_("verdict must be red or black."), code="verdict_invalid")
    reason = data.get("reason")
    if reason not in RatingReason.values:
        raise Invalid(_("Choose a reason from the list."), code="reason_invalid")
    text = data.get("text") or ""
    if not isinstance(text, str) or len(text) > TEXT_MAX:
        raise Invalid(_("The text must be at most 1000 characters."), code="text_invalid")
    entity_id, _name, category = resolve_entity(entity_type, data.get("entity_id"))
    weight = rating_weight(member.shop_id, entity_type, entity_id)
    with transaction.atomic():
        rating, created = Rating.objects.update_or_create(
            shop_id=member.shop_id,
            entity_type=entity_type,
            entity_id=entity_id,
            defaults={
                "verdict": verdict,
                "reason": reason,
                "text": text.strip(),
                "category": category or "",
                "weight": weight,
                "rated_by": user,
            },
        )
        refresh_scores([(entity_type, entity_id)])
    return rating, created


def _names(keys: Iterable[Key]) -> dict[Key, str]:
    by_type: dict[str, list[str]] = defaultdict(list)
    for t, i in keys:
        by_type[t].append(i)
    names: dict[Key, str] = {}
    for t, ids in by_type.items():
        if t in (EntityType.PRODUCT, EntityType.FACTORY):
            model = Product if t == EntityType.PRODUCT else Factory
            pks = [int(i) for i in ids if i.isdigit()]
            for pk, name in model.objects.filter(pk__in=pks).values_list("pk", "name"):
                names[(t, str(pk))] = name
        else:
            names.update({(t, i): i for i in ids})
    return names


def refresh_scores(keys: list[Key] | None = None) -> int:
    """Recompute the scores of these entities (all when None) from their visible ratings, set-based."""
    qs = Rating.objects.filter(hidden=False)
    if keys is not None:
        if not keys:
            return 0
        cond = Q()
        for t, i in keys:
            cond |= Q(entity_type=t, entity_id=i)
        qs = qs.filter(cond)
    agg: dict[Key, dict[str, Any]] = {}
    rows = qs.values("entity_type", "entity_id").annotate(
        red=Count("pk", filter=Q(verdict=Verdict.RED)),
        black=Count("pk", filter=Q(verdict=Verdict.BLACK)),
        red_w=Sum("weight", filter=Q(verdict=Verdict.RED), default=0.0),
        black_w=Sum("weight", filter=Q(verdict=Verdict.BLACK), default=0.0),
    )
    for r in rows:
        agg[(r["entity_type"], r["entity_id"])] = {**r, "reasons": {}, "category": ""}
    for r in qs.values("entity_type", "entity_id", "reason", "category").annotate(n=Count("pk")):
        entry = agg[(r["entity_type"], r["entity_id"])]
        entry["reasons"][r["reason"]] = entry["reasons"].get(r["reason"], 0) + r["n"]
        entry["category"] = entry["category"] or r["category"]
    names = _names(agg)
    threshold_b, threshold_r, min_n = conf("BLACK_THRESHOLD"), conf("RED_THRESHOLD"), conf("MIN_RATINGS")
    scores = []
    for (t, i), a in agg.items():
        n_w = a["red_w"] + a["black_w"]
        score, black_score = wilson_lower(a["red_w"], n_w), wilson_lower(a["black_w"], n_w)
        enough = a["red"] + a["black"] >= min_n
        status = RatingStatus.NONE
        if enough and black_score >= threshold_b:
            status = RatingStatus.BLACK
        elif enough and score >= threshold_r:
            status = RatingStatus.RED
        product_id = int(i) if t == EntityType.PRODUCT and (t, i) in names else None
        scores.append(
            RatingScore(
                entity_type=t, entity_id=i, category=a["category"], name=names.get((t, i), i)[:200],
                product_id=product_id, red=a["red"], black=a["black"], red_weight=a["red_w"],
                black_weight=a["black_w"], score=score, black_score=black_score, status=status,
                reasons=a["reasons"],
            )
        )  # fmt: skip
    with transaction.atomic():
        stale = RatingScore.objects.all()
        if keys is not None:
            stale = stale.filter(_keys_q(keys))
        if agg:
            stale = stale.exclude(_keys_q(list(agg)))
        stale.delete()
        fields = ["category", "name", "product", "red", "black", "red_weight", "black_weight", "score"]
        fields += ["black_score", "status", "reasons", "updated_at"]
        RatingScore.objects.bulk_create(
            scores, batch_size=2000, update_conflicts=True,
            unique_fields=["entity_type", "entity_id"], update_fields=fields,
        )  # fmt: skip
    return len(scores)


def _keys_q(keys: list[Key]) -> Q:
    by_type: dict[str, list[str]] = defaultdict(list)
    for t, i in keys:
        by_type[t].append(i)
    q = Q(pk__in=[])
    for t, ids in by_type.items():
        q |= Q(entity_type=t, entity_id__in=ids)
    return q


def refresh_weights_and_scores() -> int:
    """The beat sweep: every rating's weight from current sales evidence, then every score."""
    changed = []
    for rating in Rating.objects.only("pk", "shop_id", "entity_type", "entity_id", "weight").iterator():
        weight = rating_weight(rating.shop_id, rating.entity_type, rating.entity_id)
        if abs(weight - rating.weight) > 1e-9:
            rating.weight = weight
            changed.append(rating)
    Rating.objects.bulk_update(changed, ["weight"], batch_size=2000)
    return refresh_scores(None)


def reason_list(counts: dict[str, int]) -> list[dict[str, Any]]:
    labels = dict(RatingReason.choices)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"code": c, "label": str(labels.get(c, c)), "count": n} for c, n in ordered]


def board(entity_type: str, category: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Top red then top black of one entity type (optionally one category), from the stored scores."""
    if entity_type not in EntityType.values:
        raise Invalid(_("entity_type must be product, brand, factory or origin."), code="entity_type_invalid")
    limit = limit or conf("BOARD_SIZE")
    qs = RatingScore.objects.filter(entity_type=entity_type)
    if category:
        qs = qs.filter(category=category)
    fields = ["entity_id", "name", "category", "score", "black_score", "red", "black", "status", "reasons"]
    top_red = list(qs.filter(red__gt=0).order_by("-score", "entity_id").values(*fields)[:limit])
    top_black = list(qs.filter(black__gt=0).order_by("-black_score", "entity_id").values(*fields)[:limit])
    seen: set[str] = set()
    rows = []
    for side, group in (("red", top_red), ("black", top_black)):
        for r in group:
            if r["entity_id"] in seen:
                continue
            seen.add(r["entity_id"])
            rows.append({**r, "side": side})
    product_ids = [int(r["entity_id"]) for r in rows] if entity_type == EntityType.PRODUCT else []
    reviews: dict[int, tuple[float, int]] = {}
    refunds: dict[int, float] = {}
    if product_ids:
        for provider in hooks.review_stats.providers():
            reviews.update(provider(product_ids))
        for provider in hooks.refund_stats.providers():
            refunds.update(provider(product_ids))
    out = []
    for r in rows:
        pid = int(r["entity_id"]) if product_ids else None
        avg = reviews.get(pid) if pid is not None else None
        rate_ = refunds.get(pid) if pid is not None else None
        out.append(
            {
                "entity_id": r["entity_id"],
                "name": r["name"],
                "category": r["category"],
                "side": r["side"],
                "status": r["status"],
                "score": round(r["score"], 4),
                "black_score": round(r["black_score"], 4),
                "count": r["red"] + r["black"],
                "red": r["red"],
                "black": r["black"],
                "reviews_avg": round(avg[0], 2) if avg else None,
                "refund_rate": round(rate_, 4) if rate_ is not None else None,
                "reasons": reason_list(r["reasons"]),
            }
        )
    return out


def product_statuses(product_ids: Iterable[int]) -> dict[int, str]:
    """{product_id: "red" | "black"} for the products 红黑榜 marks (one indexed statement)."""
    ids = list(product_ids)
    if not ids:
        return {}
    qs = RatingScore.objects.filter(product_id__in=ids).exclude(status=RatingStatus.NONE)
    return dict(qs.values_list("product_id", "status"))


def shop_product_statuses(shop_id: int) -> dict[int, str]:
    qs = RatingScore.objects.filter(product__shop_id=shop_id).exclude(status=RatingStatus.NONE)
    return dict(qs.values_list("product_id", "status"))


def ratings_moderate(rating_ids: list[int], *, hidden: bool) -> int:
    """Hide (or show again) ratings: a hidden one stops counting at once."""
    with transaction.atomic():
        qs = Rating.objects.filter(pk__in=rating_ids)
        keys = list(qs.values_list("entity_type", "entity_id").distinct())
        n = qs.update(hidden=hidden)
        refresh_scores(keys)
    return n


BURST_MIN = 5


def burst_rating_ids(now: Any = None) -> list[int]:
    """Black ratings on entities with at least BURST_MIN new black ratings in the last hour."""
    import datetime as dt

    from django.utils import timezone

    since = (now or timezone.now()) - dt.timedelta(hours=1)
    recent = Rating.objects.filter(verdict=Verdict.BLACK, created_at__gte=since)
    hot = recent.values("entity_type", "entity_id").annotate(n=Count("pk")).filter(n__gte=BURST_MIN)
    keys = [(r["entity_type"], r["entity_id"]) for r in hot]
    if not keys:
        return []
    return list(recent.filter(_keys_q(keys)).values_list("pk", flat=True))
