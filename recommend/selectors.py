"""Reads for recommendations: the training catalogue from the database, model versions, owned products."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import QuerySet, Sum
from django.utils import timezone

from core.db import sql_in
from core.replica import read_connection
from fans.chat.models import Conversation, Fan, Message, MessageKind, Side
from fans.crm.models import FanTag, Tag, TagGroup
from recommend.data import Catalog, Interactions
from recommend.features import (
    CHAT_DAYS,
    CHAT_MAX_MESSAGES,
    CHAT_MAX_TOTAL_MESSAGES,
    fan_documents,
    product_features,
    tag_feature,
)
from recommend.models import STRONG_KINDS, Interaction, ModelVersion
from shops.models import Product, RatingScore, Variant


@dataclass(frozen=True)
class DbCatalog:
    """A Catalog over every fan and product of every shop, with the database keys of each row."""

    catalog: Catalog
    fan_pks: np.ndarray
    fan_shops: np.ndarray
    product_pks: np.ndarray
    product_shops: np.ndarray
    # The phrase rules the fans' text was read with, and when (messages after it are not in the catalogue):
    # stored with the model, so serving reads later messages the same way (recommend.serving.live_text).
    text_rules: dict[str, str] = field(default_factory=dict)
    text_as_of: dt.datetime | None = None


def catalog_from_db() -> DbCatalog:
    """All shops in one catalogue: tags are one platform vocabulary, so tag embeddings learn from every shop.

    Rows are fans (a person following two shops is two fans) and products; each shop only ever sees its own
    fans and products at serving time.
    """
    fans = np.array(list(Fan.objects.order_by("pk").values_list("pk", "shop_id")), dtype=np.int64).reshape(
        -1, 2
    )
    products = list(Product.objects.order_by("pk").values_list("pk", "shop_id", "category", "brand", "price"))
    fan_index = {int(pk): n for n, pk in enumerate(fans[:, 0])}
    product_index = {pk: n for n, (pk, *_rest) in enumerate(products)}

    rows = np.array(
        list(Interaction.objects.values_list("fan_id", "product_id").annotate(w=Sum("weight")).order_by()),
        dtype=np.float64,
    ).reshape(-1, 3)
    users = np.array([fan_index.get(int(f), -1) for f in rows[:, 0]], dtype=np.int64)
    items = np.array([product_index.get(int(p), -1) for p in rows[:, 1]], dtype=np.int64)
    ok = (users >= 0) & (items >= 0)
    interactions = Interactions(
        users=users[ok].astype(np.int32),
        items=items[ok].astype(np.int32),
        weights=rows[ok, 2].astype(np.float32),
        n_users=len(fans),
        n_items=len(products),
    )

    tag_strings = {
        pk: tag_feature(group, code, shop_id)
        for pk, group, code, shop_id in Tag.objects.values_list("pk", "group__code", "code", "group__shop_id")
    }
    user_tags: list[list[str]] = [[] for _ in range(len(fans))]
    for fan_id, tag_id in FanTag.objects.values_list("fan_id", "tag_id").iterator(chunk_size=20_000):
        idx = fan_index.get(fan_id)
        if idx is not None:
            user_tags[idx].append(tag_strings[tag_id])
    features = product_features(
        (pk, category, brand, price) for pk, _shop, category, brand, price in products
    )
    text_rules = platform_phrase_rules()
    text_as_of = timezone.now()
    docs = fan_documents(None, text_rules, now=text_as_of)
    catalog = Catalog(
        user_ids=[str(pk) for pk in fans[:, 0]],
        item_ids=[str(pk) for pk, *_rest in products],
        interactions=interactions,
        user_tags=[tuple(sorted(set(tags))) for tags in user_tags],
        item_tags=[tuple(sorted(set(features[pk]))) for pk, *_rest in products],
        has_weights=True,
        user_docs=tuple(docs.get(int(pk), Counter()) for pk in fans[:, 0]) if docs else None,
    )
    return DbCatalog(
        catalog=catalog,
        fan_pks=fans[:, 0].copy(),
        fan_shops=fans[:, 1].copy(),
        product_pks=np.array([p[0] for p in products], dtype=np.int64),
        product_shops=np.array([p[1] for p in products], dtype=np.int64),
        text_rules=text_rules,
        text_as_of=text_as_of,
    )


def platform_phrase_rules() -> dict[str, str]:
    """The bot's platform phrase rules as phrase → "group:value" (what recommend.text recognises in chat);
    empty if the database cannot be read (an offline evaluation from CSV files needs none)."""
    from django.db import DatabaseError

    from fans.bot.models import PhraseRule

    try:
        return {
            phrase: f"{group}:{code}"
            for phrase, group, code in PhraseRule.objects.filter(shop__isnull=True, is_active=True)
            .order_by("phrase", "pk")
            .values_list("phrase", "tag__group__code", "tag__code")
        }
    except DatabaseError:
        return {}


def owned_product_ids(fan_id: int) -> set[int]:
    """Products the fan pledged or bought: never recommended to them again."""
    return set(
        Interaction.objects.filter(fan_id=fan_id, kind__in=STRONG_KINDS).values_list("product_id", flat=True)
    )


# --- serving reads ---------------------------------------------------------------------------------------
# Plain SQL: these run on every recommend_for_fan call, where compiling an ORM query costs more than running it.

CENT = Decimal("0.01")


@dataclass(frozen=True)
class FanServingState:
    """What one call needs to know about a fan, read in one statement."""

    tag_ids: list[int]
    owned: set[int]
    # (count, max pk) of the shop's products above `after_pk`: changes whenever one is added or deleted.
    new_products_stamp: tuple[int, int]
    # The serving ModelVersion.version ("-" for none), None if the fan does not exist.
    serving_version: str | None = None
    # The shop's products 红黑榜 marks: {product id: "red" | "black"} (shops.rating_models.RatingScore).
    listed: dict[int, str] = field(default_factory=dict)


def fan_serving_state(fan_id: int, shop_id: int, *, after_pk: int | None) -> FanServingState:
    """The fan's tag ids (Fan.tag_ids), the products they pledged or bought, the new-products stamp and the
    serving model version (so the hot path needs no cache round trip to notice a switch).

    after_pk is the highest product pk the serving model was trained on (None: no model, stamp (0, 0)).
    """
    fan, interaction, product = Fan._meta.db_table, Interaction._meta.db_table, Product._meta.db_table
    version = ModelVersion._meta.db_table
    score = RatingScore._meta.db_table
    kinds = sorted(STRONG_KINDS)
    sql = (
        f"SELECT f.tag_ids, (SELECT COUNT(*) FROM {product} p WHERE p.shop_id = %s AND p.id > %s), "
        f"(SELECT MAX(p.id) FROM {product} p WHERE p.shop_id = %s AND p.id > %s), NULL, "
        f"COALESCE((SELECT v.version FROM {version} v WHERE v.is_serving), '-') "
        f"FROM {fan} f WHERE f.id = %s "
        f"UNION ALL SELECT NULL, NULL, NULL, i.product_id, NULL FROM {interaction} i "
        f"WHERE i.fan_id = %s AND i.kind IN ({', '.join(['%s'] * len(kinds))}) "
        f"UNION ALL SELECT NULL, NULL, NULL, s.product_id, s.status FROM {score} s "
        f"INNER JOIN {product} p ON p.id = s.product_id WHERE p.shop_id = %s AND s.status <> ''"
    )
    tag_ids: list[int] = []
    owned: set[int] = set()
    stamp = (0, 0)
    serving_version = None
    listed: dict[int, str] = {}
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [shop_id, after_pk, shop_id, after_pk, fan_id, fan_id, *kinds, shop_id])
        for raw_tags, n_new, max_new, product_id, serving in cursor.fetchall():
            if product_id is not None and serving is not None:
                listed[int(product_id)] = serving
                continue
            if product_id is not None:
                owned.add(int(product_id))
                continue
            # Django reads jsonb as text on psycopg 3, SQLite stores JSON as text.
            tags = json.loads(raw_tags) if isinstance(raw_tags, str | bytes) else raw_tags
            tag_ids = [int(t) for t in tags or ()]
            stamp = (int(n_new or 0), int(max_new or 0))
            serving_version = serving
    return FanServingState(
        tag_ids=tag_ids, owned=owned, new_products_stamp=stamp, serving_version=serving_version, listed=listed
    )


def _said_sql(now: dt.datetime | None) -> tuple[str, list[Any]]:
    """FROM and WHERE of the messages that count as what fans said (features._fan_text_messages), for the
    plain-SQL readers below; tests/recommend/test_live_text.py checks they read what the ORM reader does."""
    message, conversation, fan = Message._meta.db_table, Conversation._meta.db_table, Fan._meta.db_table
    since = (now or timezone.now()) - dt.timedelta(days=CHAT_DAYS)
    sql = (
        f"FROM {message} m INNER JOIN {conversation} c ON c.id = m.conversation_id "
        f"INNER JOIN {fan} f ON f.id = c.fan_id "
        "WHERE m.side = %s AND m.kind = %s AND m.created_at >= %s "
        "AND m.sender_id = f.user_id AND NOT f.personalisation_opt_out AND m.text <> ''"
    )
    return sql, [Side.FAN, MessageKind.TEXT, since]


def fan_chat_texts(fan_id: int, *, now: dt.datetime | None = None) -> list[str]:
    """What one fan said that counts (features.fan_messages: fan-sent text messages from the fan's own
    account, the last CHAT_DAYS days, none for an opted-out fan), newest first, at most CHAT_MAX_MESSAGES.

    Plain SQL for the hot path (the ORM statement costs ~3.5 ms of CPU to compile, this ~0.3 ms); the same
    conditions as features.fan_messages, which tests/recommend/test_live_text.py checks."""
    base, params = _said_sql(now)
    sql = f"SELECT m.text {base} AND c.fan_id = %s ORDER BY m.created_at DESC, m.id DESC LIMIT %s"
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*params, fan_id, CHAT_MAX_MESSAGES])
        return [text for (text,) in cursor.fetchall()]


def shop_talkers(
    shop_id: int, *, since: dt.datetime | None, limit: int, now: dt.datetime | None = None
) -> list[int]:
    """features.fan_talkers in plain SQL (the serving path: the ORM statement cost more CPU to compile than
    the database spent on it): the shop's fans who said something that counts after `since`, most recent
    talker first, at most `limit`."""
    base, params = _said_sql(now)
    sql = f"SELECT c.fan_id {base} AND f.shop_id = %s"
    params.append(shop_id)
    if since is not None:
        sql += " AND m.created_at > %s"
        params.append(since)
    sql += " GROUP BY c.fan_id ORDER BY MAX(m.created_at) DESC, c.fan_id DESC LIMIT %s"
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [int(pk) for (pk,) in cursor.fetchall()]


def fans_chat_texts(fan_ids: Sequence[int], *, now: dt.datetime | None = None) -> dict[int, list[str]]:
    """features.fan_messages(fan_ids) in plain SQL: the same messages, newest first, CHAT_MAX_MESSAGES per
    fan and CHAT_MAX_MESSAGES x fans in all, in one statement."""
    if not fan_ids:
        return {}
    connection = read_connection()
    base, params = _said_sql(now)
    fan_in, fan_params = sql_in("c.fan_id", [int(pk) for pk in fan_ids], connection)
    limit = min(CHAT_MAX_TOTAL_MESSAGES, CHAT_MAX_MESSAGES * len(fan_ids))
    sql = f"SELECT c.fan_id, m.text {base} AND {fan_in} ORDER BY m.created_at DESC, m.id DESC LIMIT %s"
    texts: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *fan_params, limit])
        for fan_id, text in cursor.fetchall():
            said = texts.setdefault(fan_id, [])
            if len(said) < CHAT_MAX_MESSAGES:
                said.append(text)
    return texts


def tag_vocabulary(tag_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    """{tag id: (feature string, name_zh, name_en)} for these tags."""
    if not tag_ids:
        return {}
    tag, group = Tag._meta.db_table, TagGroup._meta.db_table
    ids = sorted(set(tag_ids))
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, g.code, t.code, g.shop_id, t.name_zh, t.name_en FROM {tag} t "
            f"INNER JOIN {group} g ON g.id = t.group_id WHERE t.id IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        return {pk: (tag_feature(g, c, shop_id), zh, en) for pk, g, c, shop_id, zh, en in cursor.fetchall()}


@dataclass(frozen=True)
class PickProduct:
    """The product fields a pick carries, read without building a model instance."""

    pk: int
    shop_id: int
    name: str
    category: str
    brand: str
    price: Decimal
    currency: str
    image: str  # the stored file name, "" without an image
    is_available: bool = True

    @property
    def id(self) -> int:
        return self.pk

    @property
    def image_url(self) -> str:
        return Product._meta.get_field("image").storage.url(self.image) if self.image else ""


def products_available(pks: Sequence[int]) -> dict[int, PickProduct]:
    """The sellable products among pks: Product.is_available, and some variant available if it has any."""
    if not pks:
        return {}
    product, variant = Product._meta.db_table, Variant._meta.db_table
    ids = list(dict.fromkeys(int(pk) for pk in pks))
    sql = (
        f"SELECT p.id, p.shop_id, p.name, p.category, p.brand, p.price, p.currency, p.image FROM {product} p "
        f"WHERE p.id IN ({', '.join(['%s'] * len(ids))}) AND p.is_available "
        f"AND (NOT EXISTS (SELECT 1 FROM {variant} v WHERE v.product_id = p.id) "
        f"OR EXISTS (SELECT 1 FROM {variant} v WHERE v.product_id = p.id AND v.is_available))"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, ids)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return {
        int(pk): PickProduct(
            pk=int(pk),
            shop_id=int(shop_id),
            name=name,
            category=category,
            brand=brand,
            # SQLite hands back a float or int; match what the DecimalField would give.
            price=Decimal(str(price)).quantize(CENT),
            currency=currency,
            image=image or "",
        )
        for pk, shop_id, name, category, brand, price, currency, image in rows
    }


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("requested_by").order_by("-created_at", "-pk")


def model_version_serving() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_serving=True).first()


@dataclass(frozen=True)
class ProductServingState:
    """What fans_for_product reads about a product per call (product_serving_state)."""

    status: str  # 红黑榜: "red", "black" or ""
    buyers: set[int]  # fans who pledged or bought it
    # {fan pk: tag ids} of the shop's fans without history in the model: the trained ones asked for, and
    # every fan who joined after training (pk above after_pk).
    cold_fans: dict[int, list[int]]


def product_serving_state(
    product_id: int, shop_id: int, *, cold_fan_ids: Sequence[int], after_pk: int
) -> ProductServingState:
    """The product's 红黑榜 status, its buyers, and the tag ids (Fan.tag_ids, which mirrors FanTag) of the
    shop's fans without history: one plain-SQL statement (three ORM statements and a FanTag join cost
    several milliseconds of CPU per call to compile and read at bench scale, bench/recommend.py)."""
    fan, interaction, score = Fan._meta.db_table, Interaction._meta.db_table, RatingScore._meta.db_table
    kinds = sorted(STRONG_KINDS)
    connection = read_connection()
    cold_sql, cold_params = "FALSE", []
    if cold_fan_ids:
        cold_sql, cold_params = sql_in("f.id", [int(pk) for pk in cold_fan_ids], connection)
    sql = (
        f"SELECT 0, s.status, NULL FROM {score} s WHERE s.product_id = %s AND s.status <> '' "
        f"UNION ALL SELECT 1, NULL, i.fan_id FROM {interaction} i "
        f"WHERE i.product_id = %s AND i.kind IN ({', '.join(['%s'] * len(kinds))}) "
        f"UNION ALL SELECT 2, CAST(f.tag_ids AS TEXT), f.id FROM {fan} f "
        f"WHERE f.shop_id = %s AND (f.id > %s OR {cold_sql})"
    )
    status = ""
    buyers: set[int] = set()
    cold_pks: list[int] = []
    cold_tags: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [product_id, product_id, *kinds, shop_id, after_pk, *cold_params])
        for part, value, pk in cursor.fetchall():
            if part == 0:
                status = value
            elif part == 1:
                buyers.add(int(pk))
            else:
                cold_pks.append(int(pk))
                cold_tags.append(value or "[]")
    # One parse of every fan's tag list (a JSON array of arrays) instead of one json.loads per fan.
    parsed = json.loads(f"[{','.join(cold_tags)}]") if cold_tags else []
    cold = {pk: [int(t) for t in tags or ()] for pk, tags in zip(cold_pks, parsed, strict=True)}
    return ProductServingState(status=status, buyers=buyers, cold_fans=cold)
