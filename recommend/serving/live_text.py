"""What a fan said, read at serving time: text features for fans the model has no history for.

Training stores what each fan had said as of training (Artifacts.user_text). A fan who first chats after the
nightly run, or who joined after it, would otherwise be served from tags alone. For them serving reads the
same messages training reads (recommend.features.fan_messages: fan-sent text only, never staff, bot or
broadcast messages, the last CHAT_DAYS days, the newest CHAT_MAX_MESSAGES) and weighs them with the trained
vocabulary and IDF (extra["text"], recommend.text.TextModel) and the phrase rules training used
(extra["text_rules"]), so the fan's features are exactly those training would have given the same messages.
Fans who opted out of personalisation have no text (the query leaves them out; callers do not ask).

Cost: one statement per fan (recommend_for_fan) or two per call for a shop's talkers (fans_for_product,
at most LIVE_TEXT_MAX_FANS fans, in plain SQL); tokenising is cached per message text (TERMS_CACHE_SIZE texts),
so a fan's messages are cut with jieba once per process, not on every call, and a talker's features per list
of messages (FEATURES_CACHE_SIZE lists): a pure function of the texts, so nothing goes stale.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable

import numpy as np

from recommend.selectors import fan_chat_texts, fans_chat_texts, platform_phrase_rules, shop_talkers
from recommend.serving.model import ServingModel
from recommend.text import TextModel, message_terms

# fans_for_product reads live text for at most this many of the shop's most recent talkers without history
# (the others keep the text they had at training).
LIVE_TEXT_MAX_FANS = 200
# The talkers query reads this many times LIVE_TEXT_MAX_FANS, since fans with history are dropped after it.
TALKERS_OVERREAD = 4
TERMS_CACHE_SIZE = 20_000
FEATURES_CACHE_SIZE = 20_000

EMPTY = (np.array([], dtype=np.int64), np.array([], dtype=np.float32))


class LiveText:
    """A serving model's text vocabulary, mapped to its user feature rows, with a per-process term cache."""

    def __init__(self, model: ServingModel, text: TextModel, rules: dict[str, str]) -> None:
        self.text = text
        self.rules = rules
        # Column c of the text vocabulary is the user feature row of the same name (training appended the
        # vocabulary to the tags); -1 if absent (it never is for a version written by training).
        self.rows = np.array([model.user_vocab.get(term, -1) for term in text.vocab], dtype=np.int64)
        as_of = model.artifacts.extra.get("text_as_of")
        self.as_of = dt.datetime.fromisoformat(as_of) if as_of else None
        self._terms: dict[str, tuple[str, ...]] = {}
        self._features: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def terms(self, message: str) -> tuple[str, ...]:
        found = self._terms.get(message)
        if found is None:
            found = tuple(message_terms(message, self.rules))
            with self._lock:
                if len(self._terms) >= TERMS_CACHE_SIZE:
                    self._terms.clear()
                self._terms[message] = found
        return found

    def document(self, messages: Iterable[str]) -> Counter[str]:
        """recommend.text.document, with cached terms."""
        counts: Counter[str] = Counter()
        for message in messages:
            if message:
                counts.update(self.terms(message))
        return counts

    def features(self, messages: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(user feature rows, weights) of these messages, weighted as training weighs a fan's text."""
        doc = self.document(messages)
        if not doc:
            return EMPTY
        row = self.text.transform([doc])
        rows = self.rows[row.indices]
        keep = rows >= 0
        return rows[keep].astype(np.int64), row.data[keep].astype(np.float32)

    def features_many(self, messages: list[list[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """`features` of each fan's messages: remembered per message list (FEATURES_CACHE_SIZE lists; the
        same talkers are read on every call for the shop's products), the rest in one TF-IDF transform (a
        transform costs a few hundred microseconds of scipy overhead whatever its size)."""
        keys = [tuple(items) for items in messages]
        out: list[tuple[np.ndarray, np.ndarray] | None] = [self._features.get(key) for key in keys]
        missing = [n for n, found in enumerate(out) if found is None]
        docs = [self.document(keys[n]) for n in missing]
        matrix = self.text.transform(docs) if any(docs) else None
        for i, n in enumerate(missing):
            if matrix is None or not docs[i]:
                out[n] = EMPTY
                continue
            start, end = matrix.indptr[i], matrix.indptr[i + 1]
            rows = self.rows[matrix.indices[start:end]]
            keep = rows >= 0
            out[n] = (rows[keep].astype(np.int64), matrix.data[start:end][keep].astype(np.float32))
        if missing:
            with self._lock:
                if len(self._features) + len(missing) > FEATURES_CACHE_SIZE:
                    self._features.clear()
                for n in missing:
                    self._features[keys[n]] = out[n]
        return out  # type: ignore[return-value]

    def for_fan(self, fan_pk: int) -> tuple[np.ndarray, np.ndarray]:
        """What one fan said, now: one plain-SQL statement (selectors.fan_chat_texts)."""
        return self.features(fan_chat_texts(fan_pk))

    def for_shop_talkers(self, shop_id: int, exclude: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The shop's most recent talkers since training (fans in `exclude`, those with history, left out),
        at most LIVE_TEXT_MAX_FANS: two statements."""
        talkers = shop_talkers(shop_id, since=self.as_of, limit=LIVE_TEXT_MAX_FANS * TALKERS_OVERREAD)
        if len(exclude) and talkers:
            talkers = [pk for pk, warm in zip(talkers, np.isin(talkers, exclude), strict=True) if not warm]
        talkers = talkers[:LIVE_TEXT_MAX_FANS]
        texts = fans_chat_texts(talkers)
        return dict(zip(talkers, self.features_many([texts.get(pk, []) for pk in talkers]), strict=True))


def live_text(model: ServingModel) -> LiveText | None:
    """The model's LiveText (built once per loaded model), None if it was trained without text."""
    if "live_text" in model.extensions:
        return model.extensions["live_text"]
    data = model.artifacts.extra.get("text")
    built: LiveText | None = None
    if data and data.get("vocab"):
        rules = model.artifacts.extra.get("text_rules")
        if rules is None:
            # A version written before the rules were stored: the platform rules as they are now.
            rules = platform_phrase_rules()
        built = LiveText(model, TextModel.from_json(data), rules)
    model.extensions["live_text"] = built
    return built


def prewarm(model: ServingModel) -> None:
    """Load jieba's dictionary in the background once a model with text is loaded (about a second, longer
    on a busy machine), so the first fan who wrote Chinese does not wait for it on the request path."""
    if model.artifacts.extra.get("text") and "chat_users" in model.artifacts.regimes:
        import jieba

        threading.Thread(target=jieba.initialize, name="jieba-prewarm", daemon=True).start()
