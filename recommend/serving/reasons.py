"""Why a pick is shown: each reason in Chinese and English, rendered in the active language."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import get_language


@dataclass(frozen=True)
class Reason:
    zh: str
    en: str

    def __str__(self) -> str:
        return self.en if (get_language() or "zh-hans").startswith("en") else self.zh

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en, "text": str(self)}


POPULAR = Reason("本店热销", "popular in this shop")
SIMILAR_FANS = Reason("和你相似的粉丝认购过", "fans like you pledged")
ACTIVE_FAN = Reason("本店活跃粉丝", "an active fan of this shop")
SIMILAR_BUYERS = Reason("和这件商品的买家相似", "similar to this product's buyers")
# Always true: the fallback when no stronger claim holds for the pair (recommend.serving.truth).
FOR_YOU = Reason("为你推荐", "picked for you")
SHOP_FAN = Reason("本店粉丝", "a fan of this shop")


def tag_reason(zh: str, en: str) -> Reason:
    return Reason(f"{zh}粉丝都在买", f"popular with {en} fans")


def said_reason(word: str) -> Reason:
    """The pick comes from what the fan said in chat (a word of theirs adds most to its score)."""
    return Reason(f"你在聊天中提到「{word}」", f"you mentioned \u201c{word}\u201d in chat")


def fan_said_reason(word: str) -> Reason:
    """For staff, about a fan: the product matches something the fan said in chat."""
    return Reason(f"在聊天中提到过「{word}」", f"mentioned \u201c{word}\u201d in chat")


def match_reason(zh: str, en: str) -> Reason:
    return Reason(f"适合{zh}粉丝", f"suits {en} fans")


# 红黑榜 effects (shops.ratings): a red product is boosted, a black one is left out (and says so to staff).
RED_LIST = Reason("红榜：店主们推荐", "on the red list: shop owners recommend it")
BLACK_LIST = Reason(
    "黑榜：店主们不推荐，已停止推荐", "on the black list: shop owners advise against it, not recommended"
)
