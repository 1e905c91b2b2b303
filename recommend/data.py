"""Interaction and feature data for the recommender: loading, regime splits and training sets.

Everything here works on integer indices over one catalogue (all users and items seen in the interactions
file). A split returns two separate `Interactions` objects, `train` and `test`, built from disjoint row masks;
a `TrainSet` is built from `train` alone, so held-out pairs cannot reach a model by construction.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommend.text import TextModel, document

REGIMES: tuple[str, ...] = ("warm_users", "cold_users", "cold_items")
# Evaluated only with --user-text: fans with text held out with all their interactions (known by tags and text).
CHAT_REGIME = "chat_users"
ALL_REGIMES: tuple[str, ...] = (*REGIMES, CHAT_REGIME)
HOLDOUT_FRACTION = 0.2
# A warm user needs this many distinct items so that holding out 20% still leaves real history.
WARM_MIN_INTERACTIONS = 5


class DataError(ValueError):
    """Input data that cannot be evaluated; the message is meant for the person who supplied it."""


@dataclass(frozen=True)
class Interactions:
    """Deduplicated (user, item, weight) triples over a catalogue of n_users x n_items."""

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    n_users: int
    n_items: int

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(
            users=self.users[mask].copy(),
            items=self.items[mask].copy(),
            weights=self.weights[mask].copy(),
            n_users=self.n_users,
            n_items=self.n_items,
        )

    def to_csr(self, *, binary: bool = False) -> sp.csr_matrix:
        data = np.ones(len(self), dtype=np.float32) if binary else self.weights.astype(np.float32)
        return sp.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items))

    def pairs(self) -> set[tuple[int, int]]:
        return set(zip(self.users.tolist(), self.items.tolist(), strict=True))

    def user_set(self) -> np.ndarray:
        return np.unique(self.users)

    def item_set(self) -> np.ndarray:
        return np.unique(self.items)


@dataclass(frozen=True)
class Catalog:
    """Everything loaded from the three CSV files, indexed."""

    user_ids: list[str]
    item_ids: list[str]
    interactions: Interactions
    # Per-index feature strings as supplied (before any training vocabulary is applied).
    user_tags: list[tuple[str, ...]]
    item_tags: list[tuple[str, ...]]
    has_weights: bool = False
    # Per-index term counts of what each user said (recommend.text.document); None without text.
    user_docs: tuple[Counter[str], ...] | None = None
    # The users who had text, kept when the text itself is removed (the chat_users split needs them).
    had_text: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def text_users(self) -> np.ndarray:
        """Indices of users with any text (also after `without_text`)."""
        if self.had_text is not None:
            return self.had_text
        if self.user_docs is None:
            return np.array([], dtype=np.int32)
        return np.array([n for n, doc in enumerate(self.user_docs) if doc], dtype=np.int32)

    def without_text(self) -> Catalog:
        return replace(self, user_docs=None, had_text=self.text_users())

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


@dataclass
class LoadReport:
    interaction_rows: int = 0
    duplicate_pairs: int = 0
    nonpositive_weights: int = 0
    unknown_user_feature_rows: int = 0
    unknown_item_feature_rows: int = 0
    warnings: list[str] = field(default_factory=list)


def _read_rows(path: Path, required: tuple[str, ...], what: str) -> Iterator[dict[str, str]]:
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{what}: cannot open {path}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise DataError(
                f"{what} ({path}) is missing column(s) {', '.join(missing)}; "
                f"expected a header with {', '.join(required)}, found {', '.join(header) or 'no header'}"
            )
        reader.fieldnames = header
        try:
            yield from reader
        except csv.Error as exc:
            raise DataError(f"{what} ({path}) is not valid CSV at line {reader.line_num}: {exc}") from None


def load_catalog(
    interactions_path: str | Path, user_features_path: str | Path, item_features_path: str | Path
) -> tuple[Catalog, LoadReport]:
    """Load the three CSVs. Raises DataError with a readable message on unusable input."""
    report = LoadReport()
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {}
    pair_weight: dict[tuple[int, int], float] = {}
    has_weights = False
    for line, row in enumerate(
        _read_rows(Path(interactions_path), ("user_id", "item_id"), "interactions file"), start=2
    ):
        user_id = (row.get("user_id") or "").strip()
        item_id = (row.get("item_id") or "").strip()
        if not user_id or not item_id:
            raise DataError(f"interactions file line {line}: empty user_id or item_id")
        weight = 1.0
        raw_weight = (row.get("weight") or "").strip()
        if raw_weight:
            has_weights = True
            try:
                weight = float(raw_weight)
            except ValueError:
                raise DataError(
                    f"interactions file line {line}: weight {raw_weight!r} is not a number"
                ) from None
            if not np.isfinite(weight):
                raise DataError(f"interactions file line {line}: weight {raw_weight!r} is not finite")
        report.interaction_rows += 1
        if weight <= 0:
            report.nonpositive_weights += 1
            continue
        u = user_index.setdefault(user_id, len(user_index))
        i = item_index.setdefault(item_id, len(item_index))
        if (u, i) in pair_weight:
            report.duplicate_pairs += 1
            pair_weight[(u, i)] += weight
        else:
            pair_weight[(u, i)] = weight
    if not pair_weight:
        raise DataError(
            f"interactions file ({interactions_path}) has no usable rows (need user_id,item_id rows)"
        )

    keys = np.array(list(pair_weight.keys()), dtype=np.int32)
    interactions = Interactions(
        users=keys[:, 0].copy(),
        items=keys[:, 1].copy(),
        weights=np.fromiter(pair_weight.values(), dtype=np.float32, count=len(pair_weight)),
        n_users=len(user_index),
        n_items=len(item_index),
    )

    user_tags: list[set[str]] = [set() for _ in user_index]
    for row in _read_rows(Path(user_features_path), ("user_id", "feature"), "user features file"):
        idx = user_index.get((row.get("user_id") or "").strip())
        feature = (row.get("feature") or "").strip()
        if idx is None:
            report.unknown_user_feature_rows += 1
        elif feature:
            user_tags[idx].add(feature)
    item_tags: list[set[str]] = [set() for _ in item_index]
    for row in _read_rows(Path(item_features_path), ("item_id", "feature"), "item features file"):
        idx = item_index.get((row.get("item_id") or "").strip())
        feature = (row.get("feature") or "").strip()
        if idx is None:
            report.unknown_item_feature_rows += 1
        elif feature:
            item_tags[idx].add(feature)

    if report.unknown_user_feature_rows:
        report.warnings.append(
            f"ignored {report.unknown_user_feature_rows} user feature row(s) for users with no interactions"
        )
    if report.unknown_item_feature_rows:
        report.warnings.append(
            f"ignored {report.unknown_item_feature_rows} item feature row(s) for items with no interactions"
        )
    if report.nonpositive_weights:
        report.warnings.append(f"ignored {report.nonpositive_weights} interaction row(s) with weight <= 0")
    if report.duplicate_pairs:
        report.warnings.append(f"summed {report.duplicate_pairs} duplicate (user_id, item_id) row(s)")

    catalog = Catalog(
        user_ids=list(user_index),
        item_ids=list(item_index),
        interactions=interactions,
        user_tags=[tuple(sorted(tags)) for tags in user_tags],
        item_tags=[tuple(sorted(tags)) for tags in item_tags],
        has_weights=has_weights,
    )
    return catalog, report


# --- splits ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """A train/test split of one regime. `train` and `test` are separate objects with disjoint pairs."""

    regime: str
    train: Interactions
    test: Interactions
    # Users (cold_users) or items (cold_items) held out entirely; empty for warm_users.
    held_out: np.ndarray
    # The population the split was drawn from: users/items present in the split's input interactions.
    universe_users: np.ndarray
    universe_items: np.ndarray


def _fold_choice(
    population: np.ndarray, size: int, rng: np.random.Generator, fold_rngs: list[np.random.Generator]
) -> np.ndarray:
    """`size` draws for the last fold: fold 0 from `rng` (the plain split), each later fold from the rest."""
    chosen = rng.choice(population, size=size, replace=False)
    for fold_rng in fold_rngs:
        rest = np.setdiff1d(population, chosen, assume_unique=True)
        chosen = fold_rng.choice(rest, size=min(size, len(rest)), replace=False)
        population = rest
    return chosen


def split_interactions(
    interactions: Interactions,
    regime: str,
    *,
    seed: int,
    fraction: float = HOLDOUT_FRACTION,
    warm_min_interactions: int = WARM_MIN_INTERACTIONS,
    stream: int = 0,
    fold: int = 0,
    eligible: np.ndarray | None = None,
) -> Split:
    """Split into train and test for one regime. The same seed always gives the same split.

    Folds of one (seed, stream) hold out disjoint test sets: fold f draws from what folds 0..f-1 did not
    hold out (for warm_users, per fan). Fold 0 is the plain split. `eligible`: the users chat_users may hold
    out (those with text).
    """
    if regime == CHAT_REGIME and eligible is None:
        raise ValueError("chat_users needs the users with text (eligible)")
    if regime not in ALL_REGIMES:
        raise ValueError(f"unknown regime {regime!r}")
    if not 0 <= fold < int(1 / fraction):
        raise ValueError(f"fold must be in 0..{int(1 / fraction) - 1} for a {fraction:g} hold-out")
    # One stream per (regime, purpose): the validation split (stream 1) never reuses the test split's draws.
    rng = np.random.default_rng([seed, ALL_REGIMES.index(regime), stream])
    fold_rngs = [
        np.random.default_rng([seed, ALL_REGIMES.index(regime), stream, f]) for f in range(1, fold + 1)
    ]
    universe_users = interactions.user_set()
    universe_items = interactions.item_set()
    test_mask = np.zeros(len(interactions), dtype=bool)
    held_out = np.array([], dtype=np.int32)

    if regime == "warm_users":
        order = np.argsort(interactions.users, kind="stable")
        users_sorted = interactions.users[order]
        starts = np.flatnonzero(np.r_[True, users_sorted[1:] != users_sorted[:-1]])
        ends = np.r_[starts[1:], len(users_sorted)]
        for start, end in zip(starts, ends, strict=True):
            count = end - start
            if count < warm_min_interactions:
                continue  # too little history to hold any out: train-only
            n_test = max(1, int(round(fraction * count)))
            chosen = _fold_choice(np.arange(count), n_test, rng, fold_rngs)
            test_mask[order[start + chosen]] = True
    elif regime in ("cold_users", CHAT_REGIME):
        # chat_users: 20% of the users with text (`eligible`), with all their interactions.
        population = universe_users if regime == "cold_users" else np.intersect1d(universe_users, eligible)
        n_held = int(round(fraction * len(population)))
        held_out = np.sort(_fold_choice(population, n_held, rng, fold_rngs)).astype(np.int32)
        test_mask = np.isin(interactions.users, held_out)
    else:
        n_held = int(round(fraction * len(universe_items)))
        held_out = np.sort(_fold_choice(universe_items, n_held, rng, fold_rngs)).astype(np.int32)
        test_mask = np.isin(interactions.items, held_out)

    return Split(
        regime=regime,
        train=interactions.subset(~test_mask),
        test=interactions.subset(test_mask),
        held_out=held_out,
        universe_users=universe_users,
        universe_items=universe_items,
    )


# --- training sets --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSet:
    """What a ranker may learn from: training interactions plus every entity's features.

    Feature vocabularies contain only features carried by at least one entity with training interactions,
    so a feature seen only on held-out entities (whose embedding nothing could train) is dropped.
    """

    interactions: sp.csr_matrix  # n_users x n_items, summed weights
    known_users: np.ndarray  # bool mask: user has training interactions
    known_items: np.ndarray
    user_tags: sp.csr_matrix  # n_users x len(user_vocab), binary
    item_tags: sp.csr_matrix  # n_items x len(item_vocab), binary
    user_vocab: tuple[str, ...]
    item_vocab: tuple[str, ...]
    has_weights: bool = False
    # The text vocabulary learned on the training users (its features end user_vocab), None without text.
    text: TextModel | None = None

    @property
    def n_users(self) -> int:
        return int(self.interactions.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.interactions.shape[1])

    @property
    def nnz(self) -> int:
        return int(self.interactions.nnz)


def _tag_matrix(tags: list[tuple[str, ...]], known: np.ndarray) -> tuple[sp.csr_matrix, tuple[str, ...]]:
    vocab = sorted({tag for idx in np.flatnonzero(known) for tag in tags[idx]})
    column = {tag: col for col, tag in enumerate(vocab)}
    rows: list[int] = []
    cols: list[int] = []
    for idx, entity_tags in enumerate(tags):
        for tag in entity_tags:
            col = column.get(tag)
            if col is not None:
                rows.append(idx)
                cols.append(col)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(tags), len(vocab))
    )
    return matrix, tuple(vocab)


def build_train_set(catalog: Catalog, train: Interactions) -> TrainSet:
    matrix = train.to_csr()
    known_users = np.diff(matrix.indptr) > 0
    known_items = np.bincount(train.items, minlength=train.n_items) > 0
    user_tags, user_vocab = _tag_matrix(catalog.user_tags, known_users)
    item_tags, item_vocab = _tag_matrix(catalog.item_tags, known_items)
    text = None
    if catalog.user_docs is not None:
        # The vocabulary and IDF come from training users only; everyone's text is then weighed with it.
        text = TextModel.fit([catalog.user_docs[n] for n in np.flatnonzero(known_users)])
        if text.vocab:
            user_tags = sp.hstack(
                [user_tags, text.transform(catalog.user_docs)], format="csr", dtype=np.float32
            )
            user_vocab = (*user_vocab, *text.vocab)
    return TrainSet(
        interactions=matrix,
        known_users=known_users,
        known_items=known_items,
        user_tags=user_tags,
        item_tags=item_tags,
        user_vocab=user_vocab,
        item_vocab=item_vocab,
        has_weights=catalog.has_weights and not np.all(train.weights == train.weights[:1]),
        text=text,
    )


# --- user text ------------------------------------------------------------------------------------------


def load_user_text(path: str | Path, catalog: Catalog, rules: dict[str, str]) -> tuple[Catalog, LoadReport]:
    """Attach `user_id,text` rows (one per message, UTF-8, UTF-8 with BOM or GB18030) to the catalogue.

    Raises DataError for an unreadable, empty or undecodable file; messages of users without interactions
    are counted and ignored.
    """
    report = LoadReport()
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"user text file: cannot open {path}: {exc.strerror or exc}") from None
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise DataError(
            f"user text file ({path}) is in an unknown encoding; use UTF-8 (with or without BOM) or GB18030"
        )
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if not header:
        raise DataError(
            f"user text file ({path}) is empty; expected a header user_id,text and one row per message"
        )
    missing = [name for name in ("user_id", "text") if name not in header]
    if missing:
        raise DataError(
            f"user text file ({path}) is missing column(s) {', '.join(missing)}; "
            f"expected a header with user_id,text, found {', '.join(header)}"
        )
    reader.fieldnames = header
    index = {user_id: n for n, user_id in enumerate(catalog.user_ids)}
    messages: list[list[str]] = [[] for _ in catalog.user_ids]
    rows = unknown = 0
    try:
        for row in reader:
            message = (row.get("text") or "").strip()
            if not message:
                continue
            rows += 1
            idx = index.get((row.get("user_id") or "").strip())
            if idx is None:
                unknown += 1
            else:
                messages[idx].append(message)
    except csv.Error as exc:
        raise DataError(
            f"user text file ({path}) is not valid CSV at line {reader.line_num}: {exc}"
        ) from None
    if rows == 0:
        raise DataError(f"user text file ({path}) has no messages (need user_id,text rows)")
    if unknown:
        report.warnings.append(f"ignored {unknown} message(s) of users with no interactions")
    docs = tuple(document(user_messages, rules) for user_messages in messages)
    if not any(docs):
        raise DataError(f"user text file ({path}) has no message from a user with interactions")
    return replace(catalog, user_docs=docs), report
