"""Demo platform catalogue (选品): the factory products any shop may pick, with the retail price range the
platform allows. A new owner who signs up (/signup/owner/) finds these on "Add product → Pick from the
catalogue". Idempotent: found by name and SKU; the bounds are set every run so they stay as documented."""

from decimal import Decimal

from shops.models import Factory, FactoryProduct, FactoryVariant

# factory, product, category, description, moq, lead days, unit cost, retail min, retail max, variants
CATALOGUE = [
    (
        "宁波暖冬服饰厂",
        "轻薄羽绒服",
        "clothing",
        "90% 白鸭绒，可收纳进随附小袋。",
        100,
        30,
        "180.00",
        "299.00",
        "499.00",
        [],
    ),
    (
        "云南果园合作社",
        "应季鲜果周订盒",
        "fruit",
        "每周一盒，按成熟度搭配，天天有果吃。",
        20,
        2,
        "60.00",
        "89.00",
        "129.00",
        [],
    ),
    (
        "广州白云美妆代工厂",
        "氨基酸温和洁面乳",
        "beauty",
        "弱酸性配方，敏感肌可用。",
        200,
        15,
        "18.00",
        "39.00",
        "69.00",
        [("FAC-CLEAN-100", "100ml", 50), ("FAC-CLEAN-150", "150ml", 50)],
    ),
    (
        "景德镇青窑陶瓷厂",
        "手作釉色马克杯",
        "home",
        "高温釉，可进洗碗机和微波炉。",
        60,
        20,
        "22.00",
        "49.00",
        "89.00",
        [("FAC-MUG-BLUE", "雾蓝", 20), ("FAC-MUG-WHITE", "奶白", 20), ("FAC-MUG-GREEN", "豆青", 20)],
    ),
    (
        "赣南脐橙合作社",
        "赣南脐橙 5 斤装",
        "fruit",
        "果园现摘，产地直发。",
        50,
        3,
        "25.00",
        "45.00",
        "69.00",
        [("FAC-ORANGE-5", "5 斤装", 20)],
    ),
]


def demo_platform_catalogue_ensure() -> int:
    """The catalogue's factory products with bounds; returns how many are offered."""
    for factory_name, name, category, text, moq, lead, cost, low, high, variants in CATALOGUE:
        factory, _ = Factory.objects.get_or_create(name=factory_name)
        fp, _ = FactoryProduct.objects.get_or_create(
            factory=factory,
            name=name,
            defaults={"moq": moq, "lead_time_days": lead, "unit_cost": Decimal(cost)},
        )
        FactoryProduct.objects.filter(pk=fp.pk).update(
            category=category,
            description=text,
            retail_price_min=Decimal(low),
            retail_price_max=Decimal(high),
            in_catalogue=True,
        )
        for sku, vname, vmoq in variants:
            FactoryVariant.objects.get_or_create(
                sku=sku, defaults={"factory_product": fp, "name": vname, "moq": vmoq}
            )
    return FactoryProduct.objects.filter(in_catalogue=True, retail_price_max__isnull=False).count()
