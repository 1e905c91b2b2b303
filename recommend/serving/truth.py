"""The facts a reason claims, read for the few products or fans being shown (one query each).

A reason is shown only when it is true for that pair (recommend.serving.reasons): "和这件商品的买家相似"
needs the product to have buyers; "X粉丝都在买" needs the tag's group to apply to the product's category
(TagGroup.scope: "all" or the category) and fans holding that tag to have actually pledged or bought it.
"""

from collections.abc import Iterable

from django.db import connection

from core.db import sql_in
from fans.crm.models import FanTag, Tag, TagGroup
from recommend.models import STRONG_KINDS, Interaction
from shops.models import Product

# "都在买" (they are buying it): at least one of the shop's fans with the tag pledged or bought it.


def fan_activity(fan_ids: Iterable[int]) -> set[int]:
    """Fans with at least one interaction with the shop's products."""
    ids = list(set(fan_ids))
    if not ids:
        return set()
    return set(Interaction.objects.filter(fan_id__in=ids).values_list("fan_id", flat=True).distinct())


def scope_applies(scope: str, category: str) -> bool:
    return scope in ("", "all") or scope == category


def pick_facts(
    tag_ids: Iterable[int], products: dict[int, str]
) -> tuple[dict[int, int], set[tuple[int, int]]]:
    """For picks of one fan, in one statement: which products ({id: category}) have buyers ({id: 1}), and
    the (tag, product) pairs whose "X粉丝都在买" is true (a fan with the tag took it; the group applies).

    Existence, not counts: the picks are the popular products, and counting every distinct buyer of each
    (tens of thousands of interactions at 1M) cost hundreds of milliseconds per call at bench scale
    (bench/recommend.py); EXISTS stops at the first matching row (indexes on (product, kind) and (fan, tag)).
    """
    pks, tags = sorted(products), sorted(set(tag_ids))
    if not pks:
        return {}, set()
    interaction, fan_tag = Interaction._meta.db_table, FanTag._meta.db_table
    tag, group, product = Tag._meta.db_table, TagGroup._meta.db_table, Product._meta.db_table
    product_in, product_params = sql_in("p.id", pks)
    kind_in, kind_params = sql_in("i.kind", sorted(STRONG_KINDS))
    sql = (
        f"SELECT p.id, NULL, NULL FROM {product} p WHERE {product_in} AND EXISTS "
        f"(SELECT 1 FROM {interaction} i WHERE i.product_id = p.id AND {kind_in})"
    )
    params = [*product_params, *kind_params]
    if tags:
        tag_in, tag_params = sql_in("t.id", tags)
        sql += (
            f" UNION ALL SELECT p.id, t.id, g.scope FROM {product} p CROSS JOIN {tag} t "
            f"JOIN {group} g ON g.id = t.group_id WHERE {product_in} AND {tag_in} AND EXISTS "
            f"(SELECT 1 FROM {interaction} i JOIN {fan_tag} ft ON ft.fan_id = i.fan_id AND ft.tag_id = t.id "
            f"WHERE i.product_id = p.id AND {kind_in})"
        )
        params += [*product_params, *tag_params, *kind_params]
    buyers: dict[int, int] = {}
    bought: set[tuple[int, int]] = set()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for product_id, tag_id, scope in cursor.fetchall():
            if tag_id is None:
                buyers[product_id] = 1
            elif scope_applies(scope, products.get(product_id, "")):
                bought.add((tag_id, product_id))
    return buyers, bought
