"""Demo chat history, sent through message_send so it is stored and announced exactly like real chat."""

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from demo.data.people import SEED, fan_username
from demo.data.result import DemoResult
from demo.data.shops import SHOPS
from fans.chat.models import Conversation, Message, MessageKind
from fans.chat.services import conversation_assign, message_send
from shops.models import Product, Shop

# Fixed namespace: message client_ids are uuid5(namespace, "<shop>/<fan>/<index>"), stable across runs.
CLIENT_ID_NAMESPACE = uuid.UUID("6f1c2a9e-5d47-4c1b-9a55-3f0d2b8e7a10")

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
        Conversation.objects.filter(pk=conversation_id).update(last_message_at=end, activity_at=end)
