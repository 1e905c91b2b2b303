"""What fans said, as user features: words, phrases and phrase-rule tags, TF-IDF weighted.

One tokenizer for `recommend_eval --user-text`, for training from the database and for serving:

- Chinese runs are cut with jieba, English is lower-cased word characters; stopwords are dropped; adjacent
  kept tokens of one clause also give a bigram ("dry skin", "敏感肌").
- Words after a negator in the same clause ("不是油皮", "not oily") are prefixed "!": "!油皮" is its own
  feature, never "油皮".
- The phrase rules the bot uses (fans.bot.phrases, platform rules "油皮" → skin_type:oily) give the tag the
  fan talked about, "said:skin_type:oily", only for non-negated matches.

Features are written "text:<token>" and "said:<group>:<value>", so they never collide with tag features.
A fan's document is all their messages. The vocabulary is learned on the training fans only: at most
`max_features` features (most frequent by document frequency first), each used by at least `min_df`
training fans. Weights: (1 + log tf) * idf with idf = log((1 + n) / (1 + df)) + 1, L2-normalised per fan,
then scaled by TEXT_WEIGHT so that a talkative fan's words weigh like one more tag, not like all of them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from fans.bot.phrases import CLAUSE_BREAK, EN_NEGATORS, ZH_NEGATORS, ZH_NOT_NEGATING, phrases_find

TEXT_PREFIX = "text:"
SAID_PREFIX = "said:"
MAX_FEATURES = 2000
MIN_DF = 3
TEXT_WEIGHT = 1.0
TOKEN_RUN = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9][a-z0-9']*")
EN_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i i'm i've if in into is it it's its itself just me more most my
    myself of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours yourself
    yourselves im ive thanks thank hi hello please ok okay really get got one like""".split()
)
ZH_STOPWORDS = frozenset(
    "的 了 是 我 你 他 她 它 们 吗 呢 啊 吧 呀 哦 嗯 也 就 都 在 和 与 有 这 那 个 还 很 要 会 能 想 说 "
    "一个 一下 这个 那个 什么 怎么 可以 我们 你们 就是 还是 因为 所以 然后 如果 但是 或者 谢谢 你好 请问".split()
)
NEGATED = "!"


def _negation_start(clause: str) -> int:
    masked = clause
    for word in ZH_NOT_NEGATING:
        masked = masked.replace(word, " " * len(word))
    found = [masked.find(n) for n in ZH_NEGATORS if n in masked]
    m = EN_NEGATORS.search(masked)
    if m:
        found.append(m.end())
    return min(found) if found else -1


def _words(fragment: str) -> list[str]:
    import jieba  # loading its dictionary costs a second: only paid by fans who wrote Chinese

    out: list[str] = []
    for run in TOKEN_RUN.findall(fragment):
        if run.isascii():
            if run not in EN_STOPWORDS and len(run) > 1 and not EN_NEGATORS.fullmatch(run):
                out.append(run)
        else:
            out.extend(
                w
                for w in jieba.lcut(run, HMM=False)
                if w.strip() and w not in ZH_STOPWORDS and w not in ZH_NEGATORS
            )
    return out


def message_terms(text: str, rules: dict[str, Any]) -> list[str]:
    """Feature names in one message, with repeats (term frequency counts them)."""
    terms: list[str] = []
    for match in phrases_find(text, rules):
        terms.append(f"{SAID_PREFIX}{match.key}")
    lowered = text.lower()
    start = 0
    for brk in [*CLAUSE_BREAK.finditer(lowered), None]:
        end = brk.start() if brk else len(lowered)
        clause = lowered[start:end]
        start = brk.end() if brk else end
        neg = _negation_start(clause)
        pieces = [(clause[:neg], ""), (clause[neg:], NEGATED)] if neg >= 0 else [(clause, "")]
        for fragment, prefix in pieces:
            words = _words(fragment)
            for i, word in enumerate(words):
                terms.append(f"{TEXT_PREFIX}{prefix}{word}")
                if i + 1 < len(words):
                    sep = " " if word.isascii() and words[i + 1].isascii() else ""
                    terms.append(f"{TEXT_PREFIX}{prefix}{word}{sep}{words[i + 1]}")
    return terms


def document(messages: Iterable[str], rules: dict[str, Any]) -> Counter[str]:
    """A fan's document: term counts over all their messages."""
    counts: Counter[str] = Counter()
    for message in messages:
        if message:
            counts.update(message_terms(message, rules))
    return counts


def feature_label(feature: str) -> str:
    """What the fan said, for a reason: "text:保湿" → "保湿"; "" for negated or non-text features."""
    if feature.startswith(TEXT_PREFIX) and not feature.startswith(TEXT_PREFIX + NEGATED):
        return feature[len(TEXT_PREFIX) :]
    return ""


@dataclass
class TextModel:
    """The fitted vocabulary and IDF: stored with a model version so serving weighs words as training did."""

    vocab: list[str]
    idf: np.ndarray
    max_features: int = MAX_FEATURES
    min_df: int = MIN_DF
    weight: float = TEXT_WEIGHT

    @classmethod
    def fit(
        cls,
        docs: Sequence[Counter[str]],
        *,
        max_features: int = MAX_FEATURES,
        min_df: int = MIN_DF,
        weight: float = TEXT_WEIGHT,
    ) -> TextModel:
        doc_freq: Counter[str] = Counter()
        for doc in docs:
            doc_freq.update(doc.keys())
        kept = sorted(((f, n) for f, n in doc_freq.items() if n >= min_df), key=lambda fn: (-fn[1], fn[0]))
        kept = kept[:max_features]
        n = len(docs)
        vocab = sorted(f for f, _ in kept)
        idf = np.array([math.log((1.0 + n) / (1.0 + doc_freq[f])) + 1.0 for f in vocab], dtype=np.float32)
        return cls(vocab=vocab, idf=idf, max_features=max_features, min_df=min_df, weight=weight)

    def __post_init__(self) -> None:
        self.column = {f: c for c, f in enumerate(self.vocab)}

    def transform(self, docs: Sequence[Counter[str]]) -> sp.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, doc in enumerate(docs):
            for term, count in doc.items():
                c = self.column.get(term)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
                    vals.append((1.0 + math.log(count)) * float(self.idf[c]))
        matrix = sp.csr_matrix(
            (np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(docs), len(self.vocab))
        )
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags((self.weight / norms).astype(np.float32)) @ matrix, dtype=np.float32)

    def weights(self, doc: Counter[str]) -> dict[str, float]:
        """One fan's features with their weights (serving)."""
        row = self.transform([doc])
        return {self.vocab[c]: float(v) for c, v in zip(row.indices.tolist(), row.data.tolist(), strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {
            "vocab": self.vocab,
            "idf": [round(float(x), 6) for x in self.idf],
            "max_features": self.max_features,
            "min_df": self.min_df,
            "weight": self.weight,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextModel:
        return cls(
            vocab=list(data["vocab"]),
            idf=np.array(data["idf"], dtype=np.float32),
            max_features=int(data["max_features"]),
            min_df=int(data["min_df"]),
            weight=float(data["weight"]),
        )
