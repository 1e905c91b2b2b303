"""Reading tags from what fans say: phrase matching with simple negation, in Chinese and English.

"我是油皮" → skin_type:oily; "我不是油皮" and "not oily" → nothing. A negation word counts only when it
stands between the previous match (or the start of the clause) and the phrase, so "不是油皮是干皮"
negates oily and still suggests dry.
"""

import re
from dataclasses import dataclass

CLAUSE_BREAK = re.compile(r"[，。！？；,.!?;\n]|\bbut\b|但是|不过|可是")
ZH_NEGATORS = ("不是", "并不", "并非", "没有", "不算", "不太", "不怎么", "没", "不")
# Words that contain a negator but do not negate ("有没有" is there, "不错" good, "特别" very).
ZH_NOT_NEGATING = ("有没有", "不错", "不少", "不同", "不过", "非常", "特别", "差不多")
EN_NEGATORS = re.compile(
    r"\b(not|no|never|don't|dont|doesn't|doesnt|isn't|isnt|aren't|wasn't|without)\b", re.I
)


@dataclass(frozen=True)
class PhraseMatch:
    phrase: str
    start: int
    end: int
    key: object  # whatever the caller attached to the phrase (a rule)


def _is_ascii(text: str) -> bool:
    return all(ord(c) < 128 for c in text)


def _occurrences(text: str, lowered: str, phrase: str) -> list[tuple[int, int]]:
    if _is_ascii(phrase):
        pattern = re.compile(r"(?<![a-z0-9])" + re.escape(phrase.lower()) + r"(?![a-z0-9])")
        return [(m.start(), m.end()) for m in pattern.finditer(lowered)]
    spans, i = [], text.find(phrase)
    while i != -1:
        spans.append((i, i + len(phrase)))
        i = text.find(phrase, i + 1)
    return spans


def _negated(text: str, gap: str) -> bool:
    if EN_NEGATORS.search(gap):
        return True
    for word in ZH_NOT_NEGATING:
        gap = gap.replace(word, "")
    return any(neg in gap for neg in ZH_NEGATORS)


def phrases_find(text: str, phrases: dict[str, object]) -> list[PhraseMatch]:
    """Non-negated matches of `phrases` (phrase → key) in `text`, longest phrase first on overlaps."""
    if not text:
        return []
    lowered = text.lower()
    found: list[PhraseMatch] = []
    for phrase, key in phrases.items():
        for start, end in _occurrences(text, lowered, phrase):
            found.append(PhraseMatch(phrase, start, end, key))
    # Longest first wins overlapping spans: "XL码" over "L码", "oily skin" over "oily".
    found.sort(key=lambda m: (-(m.end - m.start), m.start))
    taken: list[PhraseMatch] = []
    for match in found:
        if all(match.end <= t.start or match.start >= t.end for t in taken):
            taken.append(match)
    taken.sort(key=lambda m: m.start)
    positive: list[PhraseMatch] = []
    previous_end = 0
    for match in taken:
        clause_start = previous_end
        for brk in CLAUSE_BREAK.finditer(text, previous_end, match.start):
            clause_start = brk.end()
        if not _negated(text, text[clause_start : match.start]):
            positive.append(match)
        previous_end = match.end
    return positive
