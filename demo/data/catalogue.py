"""The demo catalogue: products with variants and drawn pictures (no image files shipped)."""

import io
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageDraw, ImageOps

from demo.data.result import DemoResult
from preorders.poster import find_fonts
from shops.models import Category, Product, Shop, Variant


@dataclass(frozen=True)
class ProductSpec:
    code: str  # short latin code, drawn on the picture and used in SKUs
    category: str
    name: str
    brand: str
    price: str
    description: str
    variants: tuple[tuple[str, str], ...]  # (name, price)


B, H, F, C = Category.BEAUTY, Category.HOME, Category.FRUIT, Category.CLOTHING

# fmt: off
CATALOGUE: list[ProductSpec] = [
    # Beauty
    ProductSpec("B01", B, "玻尿酸保湿精华", "水润研", "129.00",
                "多重玻尿酸深层补水，质地清爽不黏腻。适合干皮、混皮，换季干燥泛红也能用。",
                (("30ml", "129.00"), ("50ml", "199.00"))),
    ProductSpec("B02", B, "控油洁面乳", "清屿", "59.00",
                "氨基酸配方，温和控油不紧绷。适合油皮、混油皮，夏天T区出油明显的必备。",
                (("100g", "59.00"), ("150g", "79.00"))),
    ProductSpec("B03", B, "烟酰胺亮肤精华液", "白研社", "149.00",
                "5%烟酰胺提亮肤色、改善暗沉。适合油皮、混皮，敏感肌建议先局部试用。",
                (("30ml", "149.00"),)),
    ProductSpec("B04", B, "积雪草修护面霜", "肌本初", "168.00",
                "舒缓泛红、修护屏障，秋冬滋润不闷痘。适合干皮、敏感肌。",
                (("50g", "168.00"),)),
    ProductSpec("B05", B, "清爽防晒乳 SPF50+", "阳光岛", "89.00",
                "轻薄不泛白，成膜快不搓泥。适合油皮、混皮日常通勤。",
                (("40ml", "89.00"), ("60ml", "119.00"))),
    ProductSpec("B06", B, "氨基酸卸妆水", "清屿", "69.00",
                "温和卸除淡妆和防晒，不刺激眼周。适合敏感肌、干皮。",
                (("300ml", "69.00"), ("500ml", "99.00"))),
    ProductSpec("B07", B, "水杨酸祛痘棉片", "白研社", "79.00",
                "疏通毛孔、改善闭口和黑头。适合油皮、痘痘肌。",
                (("60片", "79.00"),)),
    ProductSpec("B08", B, "补水保湿面膜", "水润研", "99.00",
                "每片满满精华液，敷完一整天水润。适合干皮、缺水肌。",
                (("10片装", "99.00"), ("20片装", "179.00"))),
    ProductSpec("B09", B, "丝绒雾面口红", "花漾", "129.00",
                "哑光质地不拔干，显白不挑皮，送礼也合适。",
                (("#01 正红", "129.00"), ("#02 豆沙", "129.00"), ("#03 枫叶", "129.00"), ("#04 奶茶", "129.00"))),
    ProductSpec("B10", B, "持妆粉底液", "花漾", "189.00",
                "控油持妆12小时。适合油皮、混油皮；干皮建议搭配保湿妆前乳。",
                (("象牙白", "189.00"), ("自然色", "189.00"), ("小麦色", "189.00"))),
    ProductSpec("B11", B, "乳木果滋润身体乳", "肌本初", "69.00",
                "乳木果油配方，秋冬不起皮。适合干皮。",
                (("250ml", "69.00"), ("400ml", "99.00"))),
    ProductSpec("B12", B, "无硅油控油洗发水", "清屿", "59.00",
                "清爽蓬松不塌。适合油性头皮。",
                (("400ml", "59.00"), ("750ml", "89.00"))),
    ProductSpec("B13", B, "抗初老眼部精华", "水润研", "219.00",
                "淡化细纹与黑眼圈。适合熬夜党、25岁以上。",
                (("15ml", "219.00"),)),
    ProductSpec("B14", B, "补水保湿喷雾", "阳光岛", "49.00",
                "随时补水、定妆。适合干皮，空调房常备。",
                (("150ml", "49.00"), ("300ml", "79.00"))),
    # Home
    ProductSpec("H01", H, "北欧风陶瓷餐具套装", "木野生活", "299.00",
                "哑光釉面，颜值高，可进洗碗机和微波炉。适合小家庭。",
                (("2人份", "199.00"), ("4人份", "299.00"), ("6人份", "399.00"))),
    ProductSpec("H02", H, "A类纯棉四件套", "棉语", "359.00",
                "A类纯棉，亲肤透气。适合有宝宝的家庭。",
                (("1.5m 燕麦色", "299.00"), ("1.8m 燕麦色", "359.00"), ("1.8m 雾霾蓝", "359.00"))),
    ProductSpec("H03", H, "记忆棉护颈枕", "棉语", "129.00",
                "慢回弹，贴合颈椎曲线。适合侧睡、颈椎不适。",
                (("标准款", "129.00"), ("加高款", "149.00"))),
    ProductSpec("H04", H, "316不锈钢保温杯 500ml", "随行", "89.00",
                "12小时保温，一键开盖。性价比高，通勤必备。",
                (("奶白", "89.00"), ("曜石黑", "89.00"), ("樱花粉", "89.00"))),
    ProductSpec("H05", H, "加厚收纳箱三件套", "整理控", "69.00",
                "加厚PP材质，可叠放，衣柜床底都能用。性价比之选。",
                (("中号三件套", "69.00"), ("大号三件套", "99.00"))),
    ProductSpec("H06", H, "大豆蜡香薰蜡烛礼盒", "木野生活", "129.00",
                "天然大豆蜡，无黑烟。颜值高，适合送礼。",
                (("雪松", "129.00"), ("白茶", "129.00"))),
    ProductSpec("H07", H, "麦饭石不粘炒锅", "厨匠", "199.00",
                "少油烟不粘锅，燃气电磁炉通用。",
                (("28cm 炒锅", "199.00"), ("26cm 煎锅", "159.00"))),
    ProductSpec("H08", H, "无线手持吸尘器", "洁小宝", "699.00",
                "轻量手持，续航40分钟。适合有宠物的家庭，性价比高。",
                (("标准版", "699.00"), ("宠物版", "799.00"))),
    ProductSpec("H09", H, "北欧风落地灯", "木野生活", "259.00",
                "暖光护眼，颜值高。适合客厅、卧室。",
                (("白色", "259.00"), ("原木色", "279.00"))),
    ProductSpec("H10", H, "珊瑚绒毛毯", "棉语", "89.00",
                "柔软保暖，午睡、沙发都能用。",
                (("150x200cm", "89.00"), ("200x230cm", "129.00"))),
    ProductSpec("H11", H, "玻璃密封罐套装", "厨匠", "59.00",
                "高硼硅玻璃，防潮收纳五谷杂粮。性价比高。",
                (("4只装", "59.00"), ("6只装", "79.00"))),
    ProductSpec("H12", H, "硅藻泥浴室地垫", "整理控", "49.00",
                "秒吸水速干，防滑防霉。",
                (("40x60cm", "49.00"), ("50x80cm", "69.00"))),
    # Fruit
    ProductSpec("F01", F, "海南贵妃芒 5斤装", "果园直采", "69.00",
                "树上七八成熟采摘，香甜多汁。产地直发，下单后48小时内发货。",
                (("5斤 中果", "69.00"), ("5斤 大果", "89.00"), ("10斤 大果", "159.00"))),
    ProductSpec("F02", F, "云南冰糖橙", "果园直采", "79.00",
                "皮薄汁多，甜度高，适合全家。",
                (("5斤", "45.00"), ("10斤", "79.00"))),
    ProductSpec("F03", F, "阳光玫瑰青提", "鲜果说", "59.00",
                "玫瑰香气，脆甜无籽。",
                (("2斤", "59.00"), ("4斤", "109.00"))),
    ProductSpec("F04", F, "烟台红富士苹果", "鲜果说", "49.00",
                "脆甜多汁，老人小孩都爱吃。",
                (("5斤", "49.00"), ("10斤", "89.00"))),
    ProductSpec("F05", F, "四川爱媛果冻橙", "果园直采", "65.00",
                "果肉像果冻一样嫩滑，一剥就开。",
                (("5斤", "65.00"), ("9斤", "109.00"))),
    ProductSpec("F06", F, "丹东99红颜草莓 3斤装", "鲜果说", "129.00",
                "冷链直发，个大香甜。",
                (("3斤", "129.00"),)),
    ProductSpec("F07", F, "新疆阿克苏冰糖心苹果", "果园直采", "89.00",
                "冰糖心，脆甜可口。",
                (("10斤", "89.00"),)),
    ProductSpec("F08", F, "应季鲜果周订盒", "鲜果说", "99.00",
                "每周一箱当季鲜果，留足后熟时间，可跳过或暂停。适合家庭。",
                (("小份", "99.00"), ("家庭份", "169.00"))),
    # Clothing
    ProductSpec("C01", C, "秋冬加厚羽绒服", "暖冬", "599.00",
                "90%白鸭绒，可拆卸帽，零下20度也暖和。版型偏宽松。",
                (("黑色 M", "599.00"), ("黑色 L", "599.00"), ("米白 M", "599.00"), ("米白 L", "599.00"))),
    ProductSpec("C02", C, "精梳棉基础款T恤", "素衣", "59.00",
                "精梳棉不易变形。性价比高，百搭打底。",
                (("白色 M", "59.00"), ("白色 L", "59.00"), ("黑色 M", "59.00"), ("黑色 L", "59.00"))),
    ProductSpec("C03", C, "高腰直筒牛仔裤", "素衣", "159.00",
                "显瘦不勒腰。适合梨形身材。",
                (("26", "159.00"), ("27", "159.00"), ("28", "159.00"), ("29", "159.00"))),
    ProductSpec("C04", C, "羊毛混纺针织开衫", "暖冬", "269.00",
                "软糯亲肤不扎人，通勤百搭。",
                (("燕麦色 S", "269.00"), ("燕麦色 M", "269.00"), ("藏青 M", "269.00"))),
    ProductSpec("C05", C, "冰丝防晒衣 UPF50+", "轻享", "89.00",
                "透气凉感，夏天通勤、出游都适合。",
                (("白色 均码", "89.00"), ("浅蓝 均码", "89.00"))),
    ProductSpec("C06", C, "加绒连帽卫衣", "素衣", "139.00",
                "内里加绒，宽松版型，秋冬保暖。",
                (("灰色 M", "139.00"), ("灰色 L", "139.00"), ("黑色 L", "139.00"))),
    ProductSpec("C07", C, "桑蚕丝睡衣套装", "丝悦", "399.00",
                "桑蚕丝亲肤透气，适合敏感肌。",
                (("M", "399.00"), ("L", "399.00"))),
    ProductSpec("C08", C, "速干运动休闲裤", "轻享", "119.00",
                "速干面料，适合健身和日常。",
                (("M", "119.00"), ("L", "119.00"), ("XL", "119.00"))),
    ProductSpec("C09", C, "双面呢长款大衣", "暖冬", "799.00",
                "双面羊毛呢，经典版型，显高显瘦。",
                (("驼色 M", "799.00"), ("驼色 L", "799.00"), ("黑色 M", "799.00"))),
    ProductSpec("C10", C, "亲子纯棉家居服", "棉语", "99.00",
                "A类纯棉，适合宝宝和全家。",
                (("儿童 110", "99.00"), ("儿童 130", "109.00"), ("成人 M", "129.00"))),
]
# fmt: on
SPECS = {spec.code: spec for spec in CATALOGUE}

CATEGORY_COLOURS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    Category.BEAUTY: ((255, 196, 214), (196, 84, 140)),
    Category.HOME: ((200, 218, 236), (70, 104, 150)),
    Category.FRUIT: ((255, 228, 140), (236, 120, 40)),
    Category.CLOTHING: ((206, 230, 200), (64, 124, 96)),
}


def product_image_render(
    *, code: str, category: str, price: Decimal, size: int = 480, name: str = ""
) -> bytes:
    """A JPEG: category gradient, a simple category icon, the product's name (or its latin code when no CJK
    font is installed) and the price."""
    fonts = find_fonts()
    top, bottom = CATEGORY_COLOURS.get(category, ((230, 230, 230), (120, 120, 120)))
    gradient = Image.linear_gradient("L").resize((size, size))
    image = ImageOps.colorize(gradient, black=top, white=bottom).convert("RGB")
    draw = ImageDraw.Draw(image)
    white, ink = (255, 255, 255), (255, 255, 255)
    cx, cy, s = size // 2, int(size * 0.42), size // 6
    if category == Category.BEAUTY:  # a bottle with a cap
        draw.rounded_rectangle(
            (cx - s * 0.7, cy - s * 0.9, cx + s * 0.7, cy + s * 1.4), radius=s // 4, fill=white
        )
        draw.rectangle((cx - s * 0.3, cy - s * 1.5, cx + s * 0.3, cy - s * 0.9), fill=white)
    elif category == Category.HOME:  # a house
        draw.polygon([(cx - s * 1.4, cy), (cx, cy - s * 1.3), (cx + s * 1.4, cy)], fill=white)
        draw.rectangle((cx - s, cy, cx + s, cy + s * 1.3), fill=white)
        draw.rectangle((cx - s * 0.25, cy + s * 0.5, cx + s * 0.25, cy + s * 1.3), fill=bottom)
    elif category == Category.FRUIT:  # a round fruit with a leaf
        draw.ellipse((cx - s * 1.2, cy - s, cx + s * 1.2, cy + s * 1.4), fill=white)
        draw.ellipse((cx, cy - s * 1.6, cx + s * 0.9, cy - s * 1.0), fill=(110, 170, 80))
    else:  # a T-shirt
        draw.polygon(
            [
                (cx - s * 0.5, cy - s * 1.2),
                (cx - s * 1.5, cy - s * 0.6),
                (cx - s * 1.1, cy),
                (cx - s * 0.8, cy - s * 0.2),
                (cx - s * 0.8, cy + s * 1.4),
                (cx + s * 0.8, cy + s * 1.4),
                (cx + s * 0.8, cy - s * 0.2),
                (cx + s * 1.1, cy),
                (cx + s * 1.5, cy - s * 0.6),
                (cx + s * 0.5, cy - s * 1.2),
            ],
            fill=white,
        )
    title = name if name and fonts.cjk else code
    title_size = (
        size // 10 if title == code else max(size // 16, min(size // 10, int(size * 0.8 / len(title))))
    )
    for text, y, font_size in (
        (title, int(size * 0.74), title_size),
        (f"¥{price}" if fonts.cjk else f"CNY {price}", int(size * 0.86), size // 16),
    ):
        font = fonts.get(font_size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        draw.text(((size - (right - left)) / 2, y), text, fill=ink, font=font)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _image_write(product: Product, spec: ProductSpec, shop: Shop) -> None:
    content = product_image_render(
        code=spec.code, category=spec.category, price=product.price, name=product.name
    )
    product.image.save(f"{shop.slug}-{spec.code.lower()}.jpg", ContentFile(content), save=False)


def demo_catalogue_ensure(shop: Shop, codes: tuple[str, ...], result: DemoResult) -> list[Product]:
    """The shop's products (by name) with variants (by SKU) and pictures (rewritten if the file is gone)."""
    by_name = {p.name: p for p in Product.objects.filter(shop=shop)}
    products: list[Product] = []
    with transaction.atomic():
        for code in codes:
            spec = SPECS[code]
            product = by_name.get(spec.name)
            if product is None:
                product = Product(
                    shop=shop,
                    name=spec.name,
                    category=spec.category,
                    brand=spec.brand,
                    description=spec.description,
                    price=Decimal(spec.price),
                    currency="CNY",
                )
                _image_write(product, spec, shop)
                product.save(force_insert=True)
                result.products_created += 1
                result.images_written += 1
            elif not product.image or not product.image.storage.exists(product.image.name):
                _image_write(product, spec, shop)
                Product.objects.filter(pk=product.pk).update(image=product.image.name)
                result.images_written += 1
            products.append(product)

        specs_by_product = {p.pk: SPECS[code] for p, code in zip(products, codes, strict=True)}
        skus = {
            f"{shop.slug.upper()}-{spec.code}-{i}": (pk, name, price)
            for pk, spec in specs_by_product.items()
            for i, (name, price) in enumerate(spec.variants, start=1)
        }
        existing = set(Variant.objects.filter(sku__in=skus).values_list("sku", flat=True))
        new = [
            Variant(product_id=pk, name=name, sku=sku, price=Decimal(price))
            for sku, (pk, name, price) in skus.items()
            if sku not in existing
        ]
        Variant.objects.bulk_create(new)
        result.variants_created += len(new)
    return products
