"""Demo data: accounts, two shops, catalogues with pictures, fans and some chat history.

Idempotent: every row has a natural key (username, shop slug, product name per shop, SKU, message
client_id), so a second run finds everything and stores nothing new. It lives in `preorders`, the top
app, because it will also seed tags, campaigns and factories.
"""

import io
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from PIL import Image, ImageDraw, ImageOps

from fans.chat.models import Conversation, Fan, Message, MessageKind
from fans.chat.services import conversation_assign, fan_follow, message_send
from shops.models import Category, Product, Shop, ShopMember, ShopRole, Variant

PASSWORD = "fansi-demo"
FAN_COUNT = 200
SHOP2_FAN_COUNT = 20
BASE_URL = "http://127.0.0.1:8000"
# Fixed namespace: message client_ids are uuid5(namespace, "<shop>/<fan>/<index>"), stable across runs.
CLIENT_ID_NAMESPACE = uuid.UUID("6f1c2a9e-5d47-4c1b-9a55-3f0d2b8e7a10")
SEED = 20240601

# --- People -------------------------------------------------------------------------------------

STAFF_ACCOUNTS: list[tuple[str, str]] = [
    ("admin", "平台管理员"),
    ("owner", "小美"),
    ("staff1", "小林"),
    ("manager1", "王经理"),
    ("owner2", "阿强"),
]

# fmt: off
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈"
GIVEN_SINGLE = "静敏丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玲芳燕萍红娜婷雪琳晶颖倩琪欣悦"
GIVEN_DOUBLE = [
    "小红", "小燕", "晓雯", "思琪", "雨涵", "梓萱", "欣怡", "佳怡", "子涵", "诗涵", "梦瑶", "雅琴",
    "婉清", "一诺", "可馨", "嘉怡", "浩然", "子轩", "宇航", "俊杰", "志强", "建华", "文博", "明轩",
    "晓东", "海燕", "春梅", "秋月", "丽娟", "慧敏",
]
# fmt: on


def fan_display_names(count: int = FAN_COUNT, *, seed: int = SEED) -> list[str]:
    """Deterministic Chinese names (surname + one- or two-character given name)."""
    rng = random.Random(seed)
    names = []
    for _ in range(count):
        given = rng.choice(GIVEN_DOUBLE) if rng.random() < 0.6 else rng.choice(GIVEN_SINGLE)
        names.append(rng.choice(SURNAMES) + given)
    return names


def fan_username(n: int) -> str:
    return f"fan{n}"


# --- Catalogue ----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ShopSpec:
    slug: str
    name: str
    owner: str
    invite_code: str
    description: str
    staff: tuple[tuple[str, str], ...]  # (username, role)
    products: tuple[str, ...]  # catalogue codes


# fmt: off
SHOPS: list[ShopSpec] = [
    ShopSpec(
        slug="shop1",
        name="小美的美妆生活馆",
        owner="owner",
        invite_code="shop1-invite",
        description="护肤彩妆为主，也有家居好物、当季鲜果和换季衣物。有问题随时私信小美～",
        staff=(("staff1", ShopRole.ASSISTANT), ("manager1", ShopRole.MANAGER)),
        products=(
            "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12",
            "H01", "H02", "H04", "H05", "H06", "H11",
            "F01", "F02", "F03", "F04", "F05", "F06",
            "C01", "C02", "C03", "C04", "C05", "C07",
        ),
    ),
    ShopSpec(
        slug="shop2",
        name="阿强家居优选",
        owner="owner2",
        invite_code="shop2-invite",
        description="家居好物、厨房收纳，兼顾性价比和颜值；也卖应季水果和基础款衣服。",
        staff=(),
        products=(
            "H01", "H02", "H03", "H04", "H05", "H06", "H07", "H08", "H09", "H10", "H11", "H12",
            "B01", "B02", "B05", "B08", "B11", "B14",
            "F01", "F02", "F04", "F05", "F07", "F08",
            "C01", "C02", "C06", "C08", "C09", "C10",
        ),
    ),
]
# fmt: on

# --- Chat scripts: alternate fan, shop; a conversation uses the first n lines ------------------


@dataclass(frozen=True)
class ChatScript:
    card: str  # catalogue code of the product card the owner sends after the first reply
    lines: tuple[str, ...]


# fmt: off
SCRIPTS: dict[str, ChatScript] = {
    "oily": ChatScript("B02", (
        "我是油皮，夏天T区特别容易出油，有推荐吗？",
        "油皮夏天可以试试我们的控油洁面乳，氨基酸配方很温和，早晚各一次就好～",
        "会不会洗完很干？",
        "不会的，洗完是清爽不紧绷的。再配一支清爽防晒，T区会舒服很多。",
        "那防晒会不会闷痘？",
        "这款成膜快、很轻薄，油皮姐妹反馈都不错，记得晚上认真卸妆哦。",
        "好的，那我先拿洁面和防晒各一个～",
        "收到！今天下单明天就能发货，有问题随时找我😊",
    )),
    "dry": ChatScript("B01", (
        "我是干皮，秋冬脸上老是起皮，用什么好呀？",
        "干皮推荐玻尿酸保湿精华打底补水，后面再叠一层积雪草面霜锁水。",
        "精华要买30ml还是50ml？",
        "第一次用建议30ml试试，用得好再回购50ml更划算。",
        "敏感肌可以用吗？最近有点泛红",
        "可以的，成分很温和。泛红期间先停用酸类产品哦。",
        "好的谢谢，我晚点下单",
        "不客气～有什么不清楚的随时问我",
    )),
    "mango": ChatScript("F01", (
        "这个芒果什么时候发货？",
        "海南贵妃芒是产地直发，下单后48小时内发货，一般3天左右到。",
        "会不会放几天就坏了？",
        "我们是七八成熟采摘的，收到后常温放两三天，闻到果香就可以吃啦。",
        "那我要一箱5斤大果的",
        "好的，记得选大果规格哦，收到有坏果拍照给我，包赔～",
        "可以送到公司吗？",
        "可以的，地址填公司就行，建议写上前台电话。",
    )),
    "value": ChatScript("H05", (
        "想要性价比高一点的收纳，有推荐吗？",
        "可以看看加厚收纳箱三件套，69元三个，很多粉丝回购。",
        "能放衣柜里吗？尺寸多大？",
        "中号适合放衣柜上层，大号适合床底，详情页有具体尺寸图。",
        "那厨房呢？",
        "厨房推荐玻璃密封罐套装，防潮又好看，4只装才59。",
        "好，两样都要了",
        "好嘞，我给你备注一起发货～",
    )),
    "looks": ChatScript("H01", (
        "新家装修好了，想买一套好看的餐具",
        "推荐这套北欧风陶瓷餐具，哑光釉面，颜值很高，放进洗碗机也没问题。",
        "两个人住买几人份合适？",
        "两个人建议4人份，来客人也够用。",
        "有没有别的颜色？",
        "目前是燕麦白一个色，下个月会上新雾霾蓝，到时候第一时间告诉你。",
        "好呀，那我先等等蓝色",
        "没问题，上新了我私信你～",
    )),
    "down": ChatScript("C01", (
        "羽绒服现在买是不是太早了？",
        "不早的，现在预订价格最划算，入冬前就能收到。",
        "我身高165，平时穿M，要选哪个码？",
        "这款偏宽松，165穿M刚好，里面还能加毛衣。",
        "米白色会不会很容易脏？",
        "面料有防污处理，日常污渍湿巾一擦就掉。",
        "那我要米白M",
        "好的，已经帮你记下了～",
    )),
    "foundation": ChatScript("B10", (
        "混油皮用什么粉底不容易脱妆？",
        "推荐持妆粉底液，控油效果很好，混油皮上班一整天都不太会斑驳。",
        "我皮肤比较黄，选什么色号？",
        "黄皮建议自然色，比象牙白更贴肤。",
        "要不要配妆前乳？",
        "混油皮T区用点控油妆前就够了，两颊如果干可以先做好保湿。",
        "明白了，谢谢老板",
        "客气啦，用完告诉我效果～",
    )),
    "gift": ChatScript("B09", (
        "想给女朋友买口红，哪个色号不容易出错？",
        "豆沙色最百搭，黄皮白皮都好看，送礼不会出错。",
        "有礼盒包装吗？",
        "有的，下单备注“礼盒”，免费包装还送贺卡。",
        "能写祝福语吗？",
        "可以的，把想写的话发给我，我帮你手写上去。",
        "太好了，就写“生日快乐”吧",
        "收到，会安排好的❤️",
    )),
    "fruitbox": ChatScript("F08", (
        "水果周订盒是每周都送吗？",
        "对的，每周一箱当季水果，可以随时暂停或者跳过一周。",
        "家里三口人选哪个份量？",
        "三口人建议家庭份，大概能吃一周。",
        "有没有不吃的可以换？",
        "可以备注不吃的水果，我们会尽量替换。",
        "好，那我先订一个月试试",
        "好的，第一箱下周二发货～",
    )),
    "pillow": ChatScript("H03", (
        "最近睡觉脖子疼，枕头有推荐吗？",
        "可以试试记忆棉护颈枕，慢回弹，对颈椎比较友好。",
        "我习惯侧睡",
        "侧睡建议选加高款，肩膀和头之间能撑起来。",
        "可以水洗吗？",
        "枕芯不能水洗，枕套可以拆下来洗。",
        "好的，来一个加高款",
        "好的，今天就给你发出～",
    )),
    "vacuum": ChatScript("H08", (
        "家里有猫，掉毛好严重，吸尘器哪款好？",
        "有宠物推荐宠物版无线吸尘器，带除螨刷头，猫毛一吸就干净。",
        "续航多久？",
        "标准档大概40分钟，一百平的房子够用了。",
        "声音大吗？猫会不会害怕",
        "静音档比较小声，可以先让猫熟悉一下～",
        "那我买宠物版",
        "好的，这周有活动还送一个备用滤网。",
    )),
}
# fmt: on

# Which fans of each shop get history, and which scripts that shop's fans talk about.
HISTORY: dict[str, tuple[range, tuple[str, ...]]] = {
    "shop1": (range(1, 41), ("oily", "dry", "mango", "foundation", "down", "gift", "value", "looks")),
    "shop2": (range(1, 6), ("value", "pillow", "looks", "vacuum", "fruitbox")),
}
SHOP1_ASSIGNED_TO_STAFF = (3, 6, 9, 12, 15)  # fan numbers whose shop-1 conversation staff1 handles
SHOP1_MANAGER_REPLIES = (7, 17, 27)  # conversations where manager1 answers instead of the owner


# --- Result -------------------------------------------------------------------------------------


@dataclass
class DemoResult:
    users_created: int = 0
    fans_created: int = 0
    products_created: int = 0
    variants_created: int = 0
    images_written: int = 0
    messages_created: int = 0
    shops: list[Shop] = field(default_factory=list)


# --- Steps --------------------------------------------------------------------------------------


def demo_users_ensure(result: DemoResult) -> dict[str, AbstractBaseUser]:
    """Every demo account, created in one bulk insert; existing accounts keep their password."""
    user_model = get_user_model()
    names = fan_display_names()
    wanted: dict[str, str] = dict(STAFF_ACCOUNTS)
    wanted.update({fan_username(n): names[n - 1] for n in range(1, FAN_COUNT + 1)})

    existing = {u.username: u for u in user_model.objects.filter(username__in=wanted)}
    # One hash for everyone: the real hasher costs ~0.3 s per call, and these are public demo logins.
    password_hash = make_password(PASSWORD)
    missing = [
        user_model(
            username=username,
            first_name=display,
            email=f"{username}@example.com",
            password=password_hash,
            is_staff=username == "admin",
            is_superuser=username == "admin",
        )
        for username, display in wanted.items()
        if username not in existing
    ]
    user_model.objects.bulk_create(missing, ignore_conflicts=True)
    result.users_created = len(missing)

    admin = existing.get("admin")
    if admin is not None and not (admin.is_staff and admin.is_superuser and admin.is_active):
        user_model.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True, is_active=True)
    return {u.username: u for u in user_model.objects.filter(username__in=wanted)}


def demo_shops_ensure(users: dict[str, AbstractBaseUser], result: DemoResult) -> dict[str, Shop]:
    shops: dict[str, Shop] = {}
    with transaction.atomic():
        for spec in SHOPS:
            shop, _ = Shop.objects.get_or_create(
                slug=spec.slug,
                defaults={
                    "name": spec.name,
                    "owner": users[spec.owner],
                    "invite_code": spec.invite_code,
                    "description": spec.description,
                },
            )
            members = [(spec.owner, ShopRole.OWNER), *spec.staff]
            for username, role in members:
                ShopMember.objects.get_or_create(shop=shop, user=users[username], defaults={"role": role})
            shops[spec.slug] = shop
    result.shops = list(shops.values())
    return shops


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
    from preorders.poster import find_fonts

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


def demo_fans_ensure(users: dict[str, AbstractBaseUser], shops: dict[str, Shop], result: DemoResult) -> None:
    """fan1..fan200 follow shop 1 and fan1..fan20 also shop 2, each getting their conversation."""
    names = fan_display_names()
    before = Fan.objects.filter(shop__in=shops.values()).count()
    # Already following with a conversation: nothing for fan_follow to do, so skip the round trips.
    done = set(Conversation.objects.filter(shop__in=shops.values()).values_list("shop_id", "fan__user_id"))
    # fan_follow joins this transaction: one commit instead of 220 (matters on SQLite).
    with transaction.atomic():
        for n in range(1, FAN_COUNT + 1):
            user = users[fan_username(n)]
            for shop in [shops["shop1"], shops["shop2"]] if n <= SHOP2_FAN_COUNT else [shops["shop1"]]:
                if (shop.pk, user.pk) not in done:
                    fan_follow(user=user, shop=shop, display_name=names[n - 1], via="demo")
    result.fans_created = Fan.objects.filter(shop__in=shops.values()).count() - before


def _client_id(shop: Shop, username: str, index: str | int) -> uuid.UUID:
    return uuid.uuid5(CLIENT_ID_NAMESPACE, f"{shop.slug}/{username}/{index}")


@contextmanager
def seeding_rate_limit_off() -> Iterator[None]:
    """Lift the per-user send limit in this process only, while seeding.

    The limit guards live traffic against runaway clients; the seeder is a trusted one-off process
    sending a few hundred messages as the owner. Settings are per process, so the web and websocket
    servers keep enforcing the limit for real users, and no shared cache counter is touched.
    """
    with override_settings(FANSI_CHAT={**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 0}):
        yield


def demo_history_ensure(
    users: dict[str, AbstractBaseUser],
    shops: dict[str, Shop],
    products: dict[str, dict[str, Product]],
    result: DemoResult,
) -> None:
    """Chat history through message_send, so it is stored and announced exactly like real chat."""
    rng = random.Random(SEED + 1)
    now = timezone.now()
    ordinal = 0
    with seeding_rate_limit_off():
        for slug, (fan_numbers, script_names) in HISTORY.items():
            shop = shops[slug]
            owner = users[next(s.owner for s in SHOPS if s.slug == slug)]
            conversations = {
                c.fan.user.username: c
                for c in Conversation.objects.filter(
                    shop=shop, fan__user__username__in=[fan_username(n) for n in fan_numbers]
                ).select_related("fan__user")
            }
            for i, n in enumerate(fan_numbers):
                username = fan_username(n)
                conversation = conversations[username]
                fan_user = users[username]
                script = SCRIPTS[script_names[i % len(script_names)]]
                count = rng.randint(2, len(script.lines))  # odd counts end with a fan message: unread
                responder = owner
                if slug == "shop1" and n in SHOP1_ASSIGNED_TO_STAFF:
                    if conversation.assigned_to_id is None:
                        conversation_assign(
                            actor=owner, conversation_id=conversation.pk, assignee_id=users["staff1"].pk
                        )
                    responder = users["staff1"]
                elif slug == "shop1" and n in SHOP1_MANAGER_REPLIES:
                    responder = users["manager1"]

                steps: list[tuple[AbstractBaseUser, str, dict]] = []
                for index, text in enumerate(script.lines[:count]):
                    sender = fan_user if index % 2 == 0 else responder
                    steps.append((sender, str(index), {"kind": MessageKind.TEXT, "text": text}))
                    card_product = products[slug].get(script.card)
                    # The card answers the fan's opening question, so it never counts against the attention
                    # budget or waits out quiet hours, whatever the hour the demo is seeded at.
                    if index == 0 and n % 5 == 1 and card_product is not None:
                        payload = {"product": card_product.pk}
                        steps.append((owner, "card", {"kind": MessageKind.PRODUCT_CARD, "payload": payload}))

                created_ids: list[int] = []
                for sender, key, fields in steps:
                    message, created = message_send(
                        user=sender,
                        conversation_id=conversation.pk,
                        client_id=_client_id(shop, username, key),
                        **fields,
                    )
                    if created:
                        created_ids.append(message.pk)
                result.messages_created += len(created_ids)
                _history_backdate(
                    conversation.pk, created_ids, len(steps), end=now - timedelta(minutes=37 * ordinal)
                )
                ordinal += 1


def _history_backdate(conversation_id: int, created_ids: list[int], total: int, *, end: datetime) -> None:
    """Spread a freshly seeded conversation over the past, so the inbox has a believable order.

    Only when this run wrote the whole conversation; timestamps already seen by anyone stay put.
    """
    if not created_ids or len(created_ids) != total:
        return
    if Conversation.objects.filter(pk=conversation_id).values_list("last_seq", flat=True).get() != total:
        return
    with transaction.atomic():
        for offset, pk in enumerate(reversed(created_ids)):
            Message.objects.filter(pk=pk).update(created_at=end - timedelta(minutes=3 * offset))
        Conversation.objects.filter(pk=conversation_id).update(last_message_at=end)


def demo_seed() -> DemoResult:
    """Create (or find) all demo data. Safe to run again: the second run stores nothing new."""
    result = DemoResult()
    users = demo_users_ensure(result)
    shops = demo_shops_ensure(users, result)
    products: dict[str, dict[str, Product]] = {}
    for spec in SHOPS:
        catalogue = demo_catalogue_ensure(shops[spec.slug], spec.products, result)
        products[spec.slug] = {code: p for code, p in zip(spec.products, catalogue, strict=True)}
    demo_fans_ensure(users, shops, result)
    # The history is the past: the bot still reads it for tag suggestions, but posts no away messages into it.
    from fans.bot.models import BotSettings

    for shop in shops.values():
        BotSettings.objects.update_or_create(shop=shop, defaults={"enabled": False})
    demo_history_ensure(users, shops, products, result)
    BotSettings.objects.filter(shop__in=list(shops.values())).update(enabled=True)
    from preorders.demo_campaigns import demo_campaigns_ensure

    demo_campaigns_ensure()
    from preorders.demo_extras import demo_extras_ensure

    demo_extras_ensure()
    return result


def demo_report_lines(result: DemoResult, *, base_url: str = BASE_URL) -> list[str]:
    """The logins, invite links and URLs to print after seeding."""
    created = (
        f"created: {result.users_created} users, {result.fans_created} fans, {result.products_created} products, "
        f"{result.variants_created} variants, {result.images_written} images, {result.messages_created} messages"
    )
    logins = [
        ("admin", "platform admin (Django admin)"),
        ("owner", "shop1 owner"),
        ("staff1", "shop1 assistant"),
        ("manager1", "shop1 manager"),
        ("owner2", "shop2 owner"),
        (f"fan1 … fan{FAN_COUNT}", f"fans of shop1; fan1 … fan{SHOP2_FAN_COUNT} also follow shop2"),
    ]
    width = max(len(name) for name, _ in logins)
    lines = [created, "", f"{'login'.ljust(width)}  {'password'.ljust(len(PASSWORD))}  role"]
    lines.append(f"{'-' * width}  {'-' * len(PASSWORD)}  {'-' * 40}")
    lines += [f"{name.ljust(width)}  {PASSWORD}  {role}" for name, role in logins]
    lines += ["", "shops:"]
    for shop in result.shops:
        lines.append(f"  {shop.slug}  {shop.name}  invite: {base_url}/join/{shop.invite_code}/")
    lines += [
        "",
        "urls:",
        f"  owner inbox   {base_url}/inbox/",
        f"  fan chat      {base_url}/s/shop1/",
        f"  admin         {base_url}/admin/",
        f"  API docs      {base_url}/api/docs/",
    ]
    return lines
