"""Request phrases in fans' chat: what they ask a product to be ("能不能出大码", "希望无香", "颜色太少").

A clause is a request when it carries a request cue (能不能, 希望, 有没有, 太少, ...). Its key is the set of
content words left after jieba segmentation once punctuation, particles and the cues themselves are gone, so
"能不能出大码" and "有没有大码啊" share the key {大码} and count as one request. Text that names a person
(a fan's display name or username in that shop, an @mention) or carries a phone number never becomes a
phrase: the factory sees what was asked, never who asked.
"""

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import jieba

# Request cues, longest first so 可不可以 wins over 可以. 太X (too X) keeps X as a content word.
CUES = (
    "能不能",
    "可不可以",
    "能否",
    "可以",
    "希望",
    "想要",
    "有没有",
    "求出",
    "求",
    "出个",
    "出一款",
    "建议",
    "最好",
    "要是",
    "如果",
    "不够",
    "太少",
    "太多",
    "太大",
    "太小",
    "太贵",
    "太长",
    "太短",
    "太薄",
    "太厚",
    "太",
    "再多",
    "多出",
    "多点",
    "多一点",
)
# What a key drops: particles, pronouns, fillers and the cue words as jieba cuts them.
STOP_WORDS = frozenset(
    """
    的 了 吗 呢 吧 啊 呀 哦 嘛 么 啦 哈 呗 哇 噢 嗯 诶 呐 喔 咯 滴 得 地 着 过
    我 你 他 她 它 我们 你们 他们 大家 咱们 亲 老板 店家 宝宝 姐妹 家人们
    这 那 这个 那个 这款 那款 这种 那种 这次 款 个 件 一 一个 一款 一件 一下 一点 点 些 一些
    能 不能 能不能 可以 可不可以 能否 希望 想 想要 要 有 没有 有没有 求 出 出个 建议 最好 要是 如果
    就 也 都 还 很 真 真的 再 又 更 好 就好了 好了 会 是 不 没 请 麻烦 谢谢 多谢 太 多 少点 几个 几款 几种
    """.split()
)
PHONE = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d){8}(?!\d)")
MENTION = re.compile(r"[@＠]\S+")
CLAUSE_SPLIT = re.compile(r"[，,。.！!？?；;：:、~～…\s\n\r\t()（）【】\[\]\"'“”‘’《》<>]+")
KEEP = re.compile(r"[\w\u4e00-\u9fff]")
CUE_RE = re.compile("|".join(re.escape(c) for c in CUES))

_local = threading.local()


def _tokenizer() -> jieba.Tokenizer:
    """A jieba tokenizer of our own (jieba's default one is process-global state), one per thread."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        tokenizer = _local.tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
    return tokenizer


def segment(text: str) -> list[str]:
    return _tokenizer().lcut(text)


@dataclass(frozen=True)
class Phrase:
    key: tuple[str, ...]  # the sorted content words: near-identical requests share it
    text: str  # the clause, punctuation stripped (what the report shows for the group)


def normalise(text: str) -> str:
    """Full-width to half-width, lower case: 'Ｌ码' and 'l码' are the same request."""
    return unicodedata.normalize("NFKC", text).lower()


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern matching any of these people's names (two characters or more, so no single letter)."""
    words = sorted({normalise(n).strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words))


def has_personal_data(text: str, names: re.Pattern[str] | None) -> bool:
    """A phone number, an @mention or a known person's name: such text is never quoted or counted."""
    folded = normalise(text)
    if PHONE.search(folded) or MENTION.search(folded):
        return True
    return bool(names and names.search(folded))


def _content_words(clause: str) -> tuple[str, ...]:
    words: set[str] = set()
    for token in _tokenizer().lcut(clause):
        token = token.strip()
        # jieba keeps the verb on its object now and then (出大码, 太少): the object is the request.
        for prefix in ("出", "太", "多"):
            if token.startswith(prefix) and len(token) > 1 and token not in STOP_WORDS:
                token = token[len(prefix) :]
        if not token or token in STOP_WORDS or not KEEP.search(token):
            continue
        words.add(token)
    return tuple(sorted(words))


def request_phrases(text: str, *, ignore: Iterable[str] = ()) -> list[Phrase]:
    """The requests in one message, one per clause with a cue. `ignore` are words that say which product
    the message is about (its name, variant names): they tell nothing about what is wanted."""
    dropped = {normalise(w) for w in ignore if w}
    out: list[Phrase] = []
    seen: set[tuple[str, ...]] = set()
    for clause in CLAUSE_SPLIT.split(normalise(text)):
        if not clause or not CUE_RE.search(clause):
            continue
        key = tuple(w for w in _content_words(clause) if w not in dropped)
        if key and key not in seen:
            seen.add(key)
            out.append(Phrase(key=key, text=clause))
    return out
