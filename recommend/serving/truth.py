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

# "都在买" (they are buying it): at least this many of the shop's fans with the tag pledged or bought it.
TAG_BUYERS_MIN = 1


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
    """For picks of one fan, in one statement: buyers of each product ({id: category}), and the (tag,
    product) pairs whose "X粉丝都在买" is true (enough fans with the tag took it; the group applies)."""
    pks, tags = sorted(products), sorted(set(tag_ids))
    if not pks:
        return {}, set()
    interaction, fan_tag = Interaction._meta.db_table, FanTag._meta.db_table
    tag, group = Tag._meta.db_table, TagGroup._meta.db_table
    product_in, product_params = sql_in("i.product_id", pks)
    kind_in, kind_params = sql_in("i.kind", sorted(STRONG_KINDS))
    sql = (
        f"SELECT i.product_id, NULL, NULL, COUNT(DISTINCT i.fan_id) FROM {interaction} i "
        f"WHERE {product_in} AND {kind_in} GROUP BY i.product_id"
    )
    params = [*product_params, *kind_params]
    if tags:
        tag_in, tag_params = sql_in("ft.tag_id", tags)
        sql += (
            f" UNION ALL SELECT i.product_id, ft.tag_id, g.scope, COUNT(DISTINCT i.fan_id) FROM {interaction} i "
            f"JOIN {fan_tag} ft ON ft.fan_id = i.fan_id JOIN {tag} t ON t.id = ft.tag_id "
            f"JOIN {group} g ON g.id = t.group_id "
            f"WHERE {product_in} AND {kind_in} AND {tag_in} GROUP BY i.product_id, ft.tag_id, g.scope"
        )
        params += [*product_params, *kind_params, *tag_params]
    buyers: dict[int, int] = {}
    bought: set[tuple[int, int]] = set()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for product_id, tag_id, scope, n in cursor.fetchall():
            if tag_id is None:
                buyers[product_id] = n
            elif n >= TAG_BUYERS_MIN and scope_applies(scope, products.get(product_id, "")):
                bought.add((tag_id, product_id))
    return buyers, bought
