"""Reads for recommendations: the training catalogue from the database, model versions, owned products."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet, Sum

from fans.models import Fan, FanTag, Tag
from recommend.data import Catalog, Interactions
from recommend.features import product_features, tag_feature
from recommend.models import STRONG_KINDS, Interaction, ModelVersion
from shops.models import Product


@dataclass(frozen=True)
class DbCatalog:
    """A Catalog over every fan and product of every shop, with the database keys of each row."""

    catalog: Catalog
    fan_pks: np.ndarray
    fan_shops: np.ndarray
    product_pks: np.ndarray
    product_shops: np.ndarray


def catalog_from_db() -> DbCatalog:
    """All shops in one catalogue: tags are one platform vocabulary, so tag embeddings learn from every shop.

    Rows are fans (a person following two shops is two fans) and products; each shop only ever sees its own
    fans and products at serving time.
    """
    fans = np.array(list(Fan.objects.order_by("pk").values_list("pk", "shop_id")), dtype=np.int64).reshape(-1, 2)
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
    features = product_features((pk, category, brand, price) for pk, _shop, category, brand, price in products)
    catalog = Catalog(
        user_ids=[str(pk) for pk in fans[:, 0]],
        item_ids=[str(pk) for pk, *_rest in products],
        interactions=interactions,
        user_tags=[tuple(sorted(set(tags))) for tags in user_tags],
        item_tags=[tuple(sorted(set(features[pk]))) for pk, *_rest in products],
        has_weights=True,
    )
    return DbCatalog(
        catalog=catalog,
        fan_pks=fans[:, 0].copy(),
        fan_shops=fans[:, 1].copy(),
        product_pks=np.array([p[0] for p in products], dtype=np.int64),
        product_shops=np.array([p[1] for p in products], dtype=np.int64),
    )


def owned_product_ids(fan_id: int) -> set[int]:
    """Products the fan pledged or bought: never recommended to them again."""
    return set(
        Interaction.objects.filter(fan_id=fan_id, kind__in=STRONG_KINDS).values_list("product_id", flat=True)
    )


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("requested_by").order_by("-created_at", "-pk")


def model_version_serving() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_serving=True).first()
