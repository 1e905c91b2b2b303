"""Demo data beyond chat and campaigns: fan tags, product tags, purchases, FAQ and canned replies, a trained
recommendation model. Deterministic and idempotent, like the rest of `manage.py demo`."""

import random
import uuid

from fans.bot.models import BotSettings, CannedReply, FaqRule
from fans.chat.models import Fan
from fans.chat.services import message_send
from fans.crm.models import FanTag, Tag, TagSource
from fans.crm.services.tagging import fan_tags_bulk_add
from recommend.models import Interaction, ModelStatus, ModelVersion, ProductTag
from recommend.services import interaction_record, model_train, model_train_request, product_tags_derive
from shops.models import Product, Shop

FAQ = {
    "shop1": [
        ("发货,快递,几天到", "现货下单后 48 小时内发货，默认顺丰/中通，江浙沪一般 1–2 天到～"),
        ("退货,退换,过敏", "未拆封 7 天无理由退货；用后过敏请拍照联系我们，我们负责到底。"),
        ("正品,真假", "所有商品均为品牌方或工厂直供，支持专柜验货。"),
    ],
    "shop2": [("发货,快递", "家居大件 3–5 天内发货，送货上门。")],
}
CANNED = [
    ("欢迎", "{fan_name}您好～欢迎来到{shop_name}，我是{staff_name}，有什么可以帮您？"),
    ("肤质询问", "{fan_name}，方便说下您的肤质吗？干皮/油皮/混合皮，我帮您挑更合适的～"),
]
PURCHASES_PER_FAN = 6
# Tag profiles given to demo fans (seeded), so the fan list, segments and recommendations have data.
PROFILES = [
    ["skin_type:oily", "preference:value", "skin_concern:acne"],
    ["skin_type:dry", "preference:looks", "skin_concern:fine_lines"],
    ["skin_type:combination", "preference:value", "fruit_taste:sweet"],
    ["skin_type:sensitive", "skin_concern:redness", "household:baby_0_1"],
    ["skin_type:oily", "preference:looks", "clothing_size:m"],
    ["household:pets", "preference:value", "fruit_taste:sour"],
]


# What untagged fans say in chat, by the profile their purchases follow (the owner never tagged them, so
# what they said is all the recommender can know about them beyond their history).
SAYINGS = [
    ("我是油皮，有没有控油的洁面？", "痘痘反复，想要控油祛痘的"),
    ("冬天脸特别干，想要保湿的面霜", "有没有补水保湿的精华"),
    ("混油皮，T区出油两颊干", "想找清爽保湿的水乳"),
    ("敏感肌换季就泛红，有温和的吗", "宝宝用的也要温和无刺激"),
    ("油皮夏天容易脱妆", "想买好看的口红"),
    ("家里有猫，掉毛严重", "有没有性价比高的清洁用品"),
]
CHATTY_CLIENT_IDS = uuid.UUID("3d0c7f5e-2b1a-4f7e-8c61-5a9e0b4d2c17")
# The last few untagged fans of shop1 have chatted but bought nothing yet: known by what they said only.
CHAT_ONLY_FANS = 5


def _chatty_fans_say(shop: Shop, fans: list[Fan]) -> int:
    """Untagged fans (every fifth) tell the shop what they want, in their own words; idempotent by client_id."""
    from demo.data.chat import seeding_rate_limit_off

    sent = 0
    enabled = list(BotSettings.objects.filter(shop=shop, enabled=True).values_list("pk", flat=True))
    BotSettings.objects.filter(pk__in=enabled).update(enabled=False)  # a past conversation: no bot replies
    try:
        with seeding_rate_limit_off():
            for i, fan in enumerate(fans):
                if i % 5 != 4 or not hasattr(fan, "conversation"):
                    continue
                for n, text in enumerate(SAYINGS[i % len(SAYINGS)]):
                    client_id = uuid.uuid5(CHATTY_CLIENT_IDS, f"{shop.slug}/{fan.pk}/{n}")
                    _, created = message_send(
                        user=fan.user, conversation_id=fan.conversation.pk, client_id=client_id, text=text
                    )
                    sent += created
    finally:
        BotSettings.objects.filter(pk__in=enabled).update(enabled=True)
    return sent


def demo_extras_ensure() -> dict[str, int]:
    counts = {"fan_tags": 0, "product_tags": 0, "purchases": 0, "faq": 0, "canned": 0, "model": 0, "said": 0}
    tags = {
        f"{t.group.code}:{t.code}": t
        for t in Tag.objects.select_related("group").filter(group__shop__isnull=True)
    }
    rng = random.Random(7)
    # Product tags first: the purchases below follow them.
    counts["product_tags"] = product_tags_derive()
    for shop in Shop.objects.filter(slug__in=["shop1", "shop2"]).order_by("pk"):
        fans = list(Fan.objects.filter(shop=shop).order_by("pk").select_related("user", "conversation"))
        if shop.slug == "shop1":
            counts["said"] += _chatty_fans_say(shop, fans)
        untagged = [fan for i, fan in enumerate(fans) if i % 5 == 4]
        chat_only = {fan.pk for fan in untagged[-CHAT_ONLY_FANS:]} if shop.slug == "shop1" else set()
        hidden = {fan.pk: PROFILES[i % len(PROFILES)] for i, fan in enumerate(fans) if i % 5 == 4}
        by_profile: dict[int, list[int]] = {}
        for i, fan in enumerate(fans):
            if i % 5 != 4:  # a fifth of the fans stay untagged: the "nothing known" regime
                by_profile.setdefault(i % len(PROFILES), []).append(fan.pk)
        for index, fan_ids in by_profile.items():
            counts["fan_tags"] += fan_tags_bulk_add(
                fan_ids=fan_ids,
                tags=[tags[t] for t in PROFILES[index]],
                source=TagSource.OWNER,
                actor=shop.owner,
            )
        for keywords, answer in FAQ.get(shop.slug, []):
            _, created = FaqRule.objects.get_or_create(
                shop=shop, keywords=keywords, defaults={"answer": answer}
            )
            counts["faq"] += created
        for title, text in CANNED:
            _, created = CannedReply.objects.get_or_create(shop=shop, title=title, defaults={"text": text})
            counts["canned"] += created
        # Purchases shaped by tags: oily fans mostly buy what suits oily skin, and so on; deterministic.
        # Enough per fan that the offline evaluation can hold some out for fans with history.
        products = list(Product.objects.filter(shop=shop).order_by("pk"))
        product_tags: dict[int, set[int]] = {}
        for product_id, tag_id in ProductTag.objects.filter(product__shop=shop).values_list(
            "product_id", "tag_id"
        ):
            product_tags.setdefault(product_id, set()).add(tag_id)
        fan_tags: dict[int, set[int]] = {}
        for fan_id, tag_id in FanTag.objects.filter(fan__shop=shop).values_list("fan_id", "tag_id"):
            fan_tags.setdefault(fan_id, set()).add(tag_id)
        for fan in fans:
            # An untagged fan buys along the profile they talk about (shop1) or at random (shop2).
            held = fan_tags.get(fan.pk, set()) or (
                {tags[t].pk for t in hidden[fan.pk]} if shop.slug == "shop1" and fan.pk in hidden else set()
            )
            weights = [1 + 6 * len(held & product_tags.get(p.pk, set())) for p in products]
            picks: list[Product] = []
            pool = list(zip(products, weights, strict=True))
            while pool and len(picks) < PURCHASES_PER_FAN:
                choice = rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
                picks.append(pool.pop(choice)[0])
            if fan.pk in chat_only:
                continue  # drawn all the same, so every other fan's purchases stay as they were
            for product in picks:
                _, created = interaction_record(
                    fan=fan, product=product, kind="purchase", key=f"demo:{product.pk}"
                )
                counts["purchases"] += created
    if not ModelVersion.objects.filter(status=ModelStatus.READY).exists() and Interaction.objects.exists():
        version = model_train_request()
        counts["model"] = int(model_train(version_id=version.pk).status == ModelStatus.READY)
    return counts
