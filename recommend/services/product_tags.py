"""Product tags derived from names and descriptions (platform vocabulary); staff tags are kept."""

from __future__ import annotations

import re

from fans.crm.models import Tag
from recommend.models import ProductTag, ProductTagSource
from shops.models import Product

# Description phrases -> platform tags ("group:code"). Checked in order; every match adds its tag.
DESCRIPTION_RULES: tuple[tuple[str, str], ...] = (
    (r"油皮|油性(肌|皮)|控油|oily skin", "skin_type:oily"),
    (r"干皮|干性(肌|皮)|dry skin", "skin_type:dry"),
    (r"混合(肌|皮)|混油|混干|混皮|combination skin", "skin_type:combination"),
    (r"敏感肌|敏感(皮|肤)|sensitive skin", "skin_type:sensitive"),
    (r"中性(肌|皮)|normal skin", "skin_type:normal"),
    (r"痘|acne", "skin_concern:acne"),
    (r"毛孔|pores", "skin_concern:pores"),
    (r"暗沉|提亮|dull", "skin_concern:dullness"),
    (r"细纹|抗皱|fine lines|wrinkle", "skin_concern:fine_lines"),
    (r"色斑|淡斑|dark spots", "skin_concern:spots"),
    (r"泛红|redness", "skin_concern:redness"),
    (r"补水|保湿|缺水|hydrat", "skin_concern:dehydration"),
    (r"性价比|实惠|平价|value for money", "preference:value"),
    (r"颜值|高颜|好看|good looks", "preference:looks"),
    (r"宠物|猫|狗|pet", "household:pets"),
    (r"宝宝|婴儿|母婴|baby", "household:baby_0_1"),
    (r"老人|长辈|elderly", "household:elderly"),
    (r"孕妇|孕期|备孕|expecting", "household:expecting"),
    (r"一人食|单身|single", "household:single"),
    (r"甜|sweet", "fruit_taste:sweet"),
    (r"酸|sour", "fruit_taste:sour"),
    (r"脆|crisp", "fruit_taste:crisp"),
    (r"软糯|绵软|soft", "fruit_taste:soft"),
    (r"多汁|爆汁|juicy", "fruit_taste:juicy"),
    (r"低糖|控糖|low sugar", "fruit_taste:low_sugar"),
)
_RULES = [(re.compile(pattern, re.IGNORECASE), tag) for pattern, tag in DESCRIPTION_RULES]


def tags_from_text(text: str) -> list[str]:
    return sorted({tag for pattern, tag in _RULES if pattern.search(text or "")})


def product_tags_derive(*, product_ids: list[int] | None = None) -> int:
    """Add description-derived ProductTags (platform vocabulary). Staff tags are kept. Returns rows added."""
    tags = {
        f"{group}:{code}": pk
        for pk, group, code in Tag.objects.filter(group__shop__isnull=True).values_list(
            "pk", "group__code", "code"
        )
    }
    products = Product.objects.all()
    if product_ids is not None:
        products = products.filter(pk__in=product_ids)
    rows = []
    for pk, name, description in products.values_list("pk", "name", "description").iterator(chunk_size=2000):
        for tag in tags_from_text(f"{name}\n{description}"):
            if tag in tags:
                rows.append(ProductTag(product_id=pk, tag_id=tags[tag], source=ProductTagSource.DESCRIPTION))
    before = ProductTag.objects.count()
    ProductTag.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return ProductTag.objects.count() - before
