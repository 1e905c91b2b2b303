"""The one tag suggester: what a fan said → calibrated tag candidates, shared by the chat bot and tag_suggest_eval.

A model answers, for the features found in a fan's text, a score per tag and how to turn a score into a
calibrated confidence. The bot's model knows only the phrase rules (confidence from owners' decisions); the
eval's model is learned from training fans (Beta-smoothed precision per feature, isotonic calibration).
"""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from fans.bot.phrases import CLAUSE_BREAK, EN_NEGATORS, ZH_NEGATORS, ZH_NOT_NEGATING, phrases_find

DEFAULT_THRESHOLD = 0.6
MIN_BLOCK = 30  # calibration fans per isotonic block, at least
CALIB_STRENGTH = 10.0  # pseudo-fans pulling each block toward the group's precision
CJK_RUN = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9']+")


@dataclass(frozen=True)
class Candidate:
    tag: str  # "group:value"
    confidence: float  # calibrated
    phrase: str  # what the fan said that supports it
    key: object = None  # the phrase rule, when one matched


class SuggestionModel(Protocol):
    rules: dict[str, object]  # phrase → key (a PhraseRule or a tag string)
    single: set[str]  # single-choice groups

    def evidence(self, features: dict[str, str]) -> dict[str, tuple[float, str, object]]: ...

    def calibrate(self, group: str, score: float) -> float: ...


def _negation_start(clause: str) -> int:
    """Where a negator starts in the clause (tokens after it are negated), or -1."""
    masked = clause
    for word in ZH_NOT_NEGATING:
        masked = masked.replace(word, " " * len(word))
    found = [masked.find(n) for n in ZH_NEGATORS if n in masked]
    m = EN_NEGATORS.search(masked)
    if m:
        found.append(m.start())
    return min(found) if found else -1


def _tokens(clause: str) -> list[str]:
    import jieba  # imported here: loading its dictionary costs a second the bot's hot path never pays

    out: list[str] = []
    for run in CJK_RUN.findall(clause):
        if run.isascii():
            out.append(run)
        else:
            out.extend(w for w in jieba.lcut(run, HMM=False) if w.strip())
    return out


def text_features(texts: Iterable[str], rules: dict[str, object], *, words: bool) -> dict[str, str]:
    """Feature → the phrase the fan wrote. "@phrase" for a non-negated phrase-rule match; with `words`, also
    word unigrams and bigrams per clause ("!" before those after a negator)."""
    features: dict[str, str] = {}
    for text in texts:
        for match in phrases_find(text, rules):
            features.setdefault("@" + match.phrase, match.phrase)
        if not words:
            continue
        lowered = text.lower()
        start = 0
        for brk in [*CLAUSE_BREAK.finditer(lowered), None]:
            end = brk.start() if brk else len(lowered)
            clause = lowered[start:end]
            start = brk.end() if brk else end
            neg = _negation_start(clause)
            parts = [(_tokens(clause[:neg]) if neg >= 0 else _tokens(clause), "")]
            if neg >= 0:
                parts.append((_tokens(clause[neg:]), "!"))
            for toks, prefix in parts:
                for i, tok in enumerate(toks):
                    features.setdefault(prefix + tok, tok)
                    if i + 1 < len(toks):
                        sep = " " if tok.isascii() else ""
                        features.setdefault(prefix + tok + sep + toks[i + 1], tok + sep + toks[i + 1])
    return features


def suggest(*, texts: Iterable[str], model: SuggestionModel, words: bool = False) -> list[Candidate]:
    """Every candidate with its calibrated confidence (callers show only those ≥ the display threshold):
    one per single-choice group (its best value), one per evidenced tag in a multi-choice group."""
    scored = model.evidence(text_features(texts, model.rules, words=words))
    by_group: dict[str, list[tuple[float, Candidate]]] = defaultdict(list)
    for tag, (score, phrase, key) in scored.items():
        group = tag.partition(":")[0]
        by_group[group].append((score, Candidate(tag, model.calibrate(group, score), phrase, key)))
    out: list[Candidate] = []
    for group, cands in sorted(by_group.items()):
        # By raw score: calibration is a step function, and its ties must not decide the value.
        cands.sort(key=lambda sc: (-sc[0], sc[1].tag))
        ranked = [c for _s, c in cands]
        out.extend(ranked[:1] if group in model.single else ranked)
    return out


def shown(candidates: list[Candidate], threshold: float) -> list[Candidate]:
    return [c for c in candidates if c.confidence >= threshold]


# --- learning from fans whose tags an owner confirmed ----------------------------------------------------


def isotonic_fit(scores: list[float], labels: list[int], prior: float) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators: (block upper scores, block precisions), each block Beta-smoothed toward
    `prior` so a lone lucky top score does not become 100%."""
    pairs = sorted(zip(scores, labels, strict=True))
    blocks: list[list[float]] = []  # [sum_y, n, max_score]
    # Equal scores always share a block (they cannot be told apart), and a block starts with at least
    # MIN_BLOCK fans: a block of a few fans measures noise, not precision.
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and (j - i < MIN_BLOCK or pairs[j][0] == pairs[j - 1][0]):
            j += 1
        if len(pairs) - j < MIN_BLOCK // 2:
            j = len(pairs)  # a short tail joins the last block
        chunk = pairs[i:j]
        i = j
        blocks.append([float(sum(y for _s, y in chunk)), float(len(chunk)), chunk[-1][0]])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            y2, n2, s2 = blocks.pop()
            blocks[-1][0] += y2
            blocks[-1][1] += n2
            blocks[-1][2] = s2
    uppers, values, best = [], [], 0.0
    for y, n, s in blocks:
        best = max(best, (y + CALIB_STRENGTH * prior) / (n + CALIB_STRENGTH))
        uppers.append(s)
        values.append(best)
    return uppers, values


def isotonic_apply(uppers: list[float], values: list[float], score: float) -> float:
    import bisect

    if not uppers:
        return score
    i = bisect.bisect_left(uppers, score)
    return values[min(i, len(values) - 1)]


@dataclass
class LearnedModel:
    """Per feature and tag, P(tag | fan said it), Beta-smoothed toward the tag's base rate; then isotonic."""

    rules: dict[str, object]
    single: set[str]
    table: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    maps: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)

    def evidence(self, features: dict[str, str]) -> dict[str, tuple[float, str, object]]:
        best: dict[str, tuple[float, str, object]] = {}
        for feat, phrase in features.items():
            for tag, p in self.table.get(feat, ()):
                if p > best.get(tag, (-1.0, "", None))[0]:
                    best[tag] = (p, phrase, self.rules.get(phrase) if feat.startswith("@") else None)
        return best

    def calibrate(self, group: str, score: float) -> float:
        uppers, values = self.maps.get(group, ([], []))
        return isotonic_apply(uppers, values, score)


def model_learn(
    *,
    fit: dict[str, dict[str, str]],
    calib: dict[str, dict[str, str]],
    labels: dict[str, dict[str, set[str]]],
    rules: dict[str, object],
    single: set[str],
    min_fans: int = 5,
    strength: float = 10.0,
) -> LearnedModel:
    """`fit`/`calib`: fan → features; `labels`: fan → group → held values. Tables from `fit`, calibration
    maps from `calib` (held out inside training, so the confidences are measured, not assumed)."""
    n_group: Counter[tuple[str, str]] = Counter()  # (feature, group) → labelled fans who said it
    k_tag: Counter[tuple[str, str]] = Counter()  # (feature, tag) → of those, fans holding the tag
    group_fans: Counter[str] = Counter()
    tag_fans: Counter[str] = Counter()
    for fan, feats in fit.items():
        groups = labels[fan]
        for group, values in groups.items():
            group_fans[group] += 1
            for v in values:
                tag_fans[f"{group}:{v}"] += 1
        for feat in feats:
            for group, values in groups.items():
                n_group[(feat, group)] += 1
                for v in values:
                    k_tag[(feat, f"{group}:{v}")] += 1
    base = {tag: c / group_fans[tag.partition(":")[0]] for tag, c in tag_fans.items()}
    table: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (feat, tag), k in k_tag.items():
        group = tag.partition(":")[0]
        n = n_group[(feat, group)]
        if n < min_fans:
            continue
        p = (k + strength * base[tag]) / (n + strength)
        if p > base[tag]:  # only evidence that raises the odds is evidence
            table[feat].append((tag, p))
    model = LearnedModel(rules=rules, single=single, table=dict(table))
    raw: dict[str, tuple[list[float], list[int]]] = defaultdict(lambda: ([], []))
    hits: Counter[str] = Counter()
    for fan, feats in calib.items():
        held = labels[fan]
        evidence = sorted(model.evidence(feats).items(), key=lambda kv: (-kv[1][0], kv[0]))
        taken: set[str] = set()
        for tag, (score, _phrase, _key) in evidence:
            group, _, value = tag.partition(":")
            if group not in held or (group in single and group in taken):
                continue  # the same selection suggest() makes: the best value of a single-choice group
            taken.add(group)
            raw[group][0].append(score)
            raw[group][1].append(int(value in held[group]))
            hits[group] += int(value in held[group])
    for group, (scores, ys) in raw.items():
        model.maps[group] = isotonic_fit(scores, ys, hits[group] / len(ys))
    return model
