"""Text as user features and the chat_users regime of `recommend_eval --user-text` (docs/recommend-eval.md)."""

from __future__ import annotations

import csv
import json
import random
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommend.data import build_train_set, load_catalog, load_user_text, split_interactions
from recommend.evaluation import METRICS
from recommend.synthetic import generate, write_csvs
from recommend.text import TextModel, document, message_terms

RULES = {
    "油皮": "skin_type:oily",
    "干皮": "skin_type:dry",
    "oily": "skin_type:oily",
    "dry skin": "skin_type:dry",
}


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_chinese_words_negation_and_phrase_rule_tags() -> None:
    terms = set(message_terms("我不是油皮，想要保湿的面霜", RULES))
    assert "said:skin_type:oily" not in terms  # negated: no tag
    assert "text:!油皮" in terms and "text:油皮" not in terms
    assert {"text:保湿", "text:面霜"} <= terms
    assert "text:的" not in terms  # stopword
    assert "said:skin_type:dry" in set(message_terms("我是干皮", RULES))


def test_english_tokens_bigrams_stopwords_and_negation() -> None:
    terms = set(message_terms("I have dry skin, but not oily at all", RULES))
    assert {"text:dry", "text:skin", "text:dry skin", "said:skin_type:dry"} <= terms
    assert "text:!oily" in terms and "text:oily" not in terms and "said:skin_type:oily" not in terms
    assert "text:have" not in terms and "text:i" not in terms
    assert "said:skin_type:oily" in set(message_terms("My skin is Oily.", RULES))


def test_tfidf_vocabulary_cap_min_df_and_l2_rows() -> None:
    docs = [document([f"moisturiser serum word{n % 3} rare{n}"], {}) for n in range(30)]
    model = TextModel.fit(docs, max_features=4, min_df=3)
    assert len(model.vocab) == 4
    assert not any("rare" in f for f in model.vocab)  # each used by one fan only
    matrix = model.transform(docs)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0)
    # A common word weighs less than a rarer one in the same document.
    both = TextModel.fit(docs, max_features=100, min_df=3).weights(docs[0])
    assert both["text:word0"] > both["text:moisturiser"]
    assert TextModel.from_json(json.loads(json.dumps(model.to_json()))).vocab == model.vocab


@pytest.fixture(scope="module")
def chat_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthetic shop data; 70% of fans write messages naming products they took (strong signal)."""
    out = tmp_path_factory.mktemp("chat")
    paths = write_csvs(generate(users=400, items=60, tag_strength=0.5, seed=5), out)
    rng = random.Random(0)
    taken: dict[str, list[str]] = {}
    with open(paths["interactions"], encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            taken.setdefault(row["user_id"], []).append(row["item_id"])
    rows = []
    for user, items in sorted(taken.items()):
        if rng.random() < 0.7:
            for item in rng.sample(items, min(3, len(items))):
                rows.append((user, f"I loved product{item} so much"))
            rows.append((user, "不是油皮，谢谢"))
    paths["text"] = _write(out / "text.csv", ("user_id", "text"), rows)
    return paths


def _eval(files: dict[str, Path], *extra: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "recommend_eval",
        "--interactions",
        str(files["interactions"]),
        "--user-features",
        str(files["user_features"]),
        "--item-features",
        str(files["item_features"]),
        *extra,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def test_chat_split_holds_out_a_fifth_of_the_fans_with_text_and_all_their_interactions(
    chat_files: dict[str, Path],
) -> None:
    catalog, _ = load_catalog(
        chat_files["interactions"], chat_files["user_features"], chat_files["item_features"]
    )
    catalog, _ = load_user_text(chat_files["text"], catalog, RULES)
    talkers = catalog.text_users()
    split = split_interactions(catalog.interactions, "chat_users", seed=0, eligible=talkers)
    assert set(split.held_out.tolist()) <= set(talkers.tolist())
    assert len(split.held_out) == round(0.2 * len(talkers))
    assert not set(split.train.users.tolist()) & set(split.held_out.tolist())
    assert set(split.test.users.tolist()) == set(split.held_out.tolist())
    # The text vocabulary is learned on the training fans only.
    train = build_train_set(catalog, split.train)
    assert train.text is not None and train.text.vocab
    assert all(f in train.user_vocab for f in train.text.vocab)
    assert train.user_tags.shape[1] == len(train.user_vocab)
    only_held_out = catalog.user_docs[int(split.held_out[0])]
    catalog_words = {w for n in np.flatnonzero(train.known_users) for w in catalog.user_docs[n]}
    assert all(w in catalog_words for w in train.text.vocab)
    assert only_held_out  # held-out fans still have their text at test time


def test_eval_with_text_reports_chat_users_with_the_regime_shape(
    db: None, tmp_path: Path, chat_files: dict[str, Path]
) -> None:
    out_path = tmp_path / "out.json"
    out, _ = _eval(
        chat_files, "--user-text", str(chat_files["text"]), "--grid", "tiny", "--json", str(out_path)
    )
    report = json.loads(out_path.read_text())
    chat = report["regimes"]["chat_users"]
    assert set(chat) == {
        "popularity",
        "tag_popularity",
        "ease",
        "item_knn",
        "als",
        "lightfm_hybrid",
        "lightfm_pure",
        "served",
        "served_tags_only",
        "served_text_candidate",
        "served_vs_best_baseline",
        "lift_from_text",
    }
    for name in ("popularity", "tag_popularity", "served", "served_tags_only"):
        assert set(METRICS) <= set(chat[name])
        assert all(0.0 <= chat[name][m] <= 1.0 for m in METRICS)
    assert set(chat["served_vs_best_baseline"]) == set(
        report["regimes"]["cold_users"]["served_vs_best_baseline"]
    )
    lift = chat["lift_from_text"]
    # Text that names what fans took must help, and validation must see it.
    assert lift["text_served"] is True
    assert lift["validation_text"] > lift["validation_tags_only"]
    assert chat["served"]["precision_at_k"] > chat["served_tags_only"]["precision_at_k"]
    assert lift["lift"] == pytest.approx(
        chat["served"]["precision_at_k"] / chat["served_tags_only"]["precision_at_k"] - 1, abs=1e-4
    )
    assert "lift from text" in out and "chat_users" in out
    # The classic regimes are evaluated on tags alone: the same figures as without text.
    plain = tmp_path / "plain.json"
    _eval(chat_files, "--grid", "tiny", "--json", str(plain))
    plain_report = json.loads(plain.read_text())
    assert "chat_users" not in plain_report["regimes"]
    for regime in ("warm_users", "cold_users", "cold_items"):
        assert plain_report["regimes"][regime] == report["regimes"][regime]


def test_text_that_carries_no_signal_falls_back_to_tags_only(
    db: None, tmp_path: Path, chat_files: dict[str, Path]
) -> None:
    rng = random.Random(1)
    users = sorted(
        {row["user_id"] for row in csv.DictReader(open(chat_files["interactions"], encoding="utf-8"))}
    )
    words = [f"noise{n}" for n in range(40)]
    noise = _write(
        tmp_path / "noise.csv",
        ("user_id", "text"),
        [(u, " ".join(rng.sample(words, 3))) for u in users if rng.random() < 0.7 for _ in range(2)],
    )
    out_path = tmp_path / "out.json"
    _eval(chat_files, "--user-text", str(noise), "--grid", "tiny", "--json", str(out_path))
    chat = json.loads(out_path.read_text())["regimes"]["chat_users"]
    lift = chat["lift_from_text"]
    if lift["text_served"]:
        assert lift["validation_text"] > lift["validation_tags_only"]
    else:
        assert chat["served"] == chat["served_tags_only"]
        assert lift["lift"] == 0.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"user_id,text\n", "no messages"),
        ("user_id,text\nu1,我是油皮\n".encode("utf-16"), "unknown encoding"),
        (b"user_id,message\nu1,hello\n", "missing column"),
    ],
)
def test_bad_text_files_stop_with_one_line_and_write_nothing(
    db: None, tmp_path: Path, chat_files: dict[str, Path], content: bytes, message: str
) -> None:
    bad = tmp_path / "text.csv"
    bad.write_bytes(content)
    out_path = tmp_path / "out.json"
    with pytest.raises(CommandError, match=message) as caught:
        _eval(chat_files, "--user-text", str(bad), "--grid", "tiny", "--json", str(out_path))
    assert "\n" not in str(caught.value)
    assert not out_path.exists()


def test_gb18030_and_bom_text_files_are_read(tmp_path: Path, chat_files: dict[str, Path]) -> None:
    catalog, _ = load_catalog(
        chat_files["interactions"], chat_files["user_features"], chat_files["item_features"]
    )
    user = catalog.user_ids[0]
    for encoding in ("gb18030", "utf-8-sig"):
        path = _write(
            tmp_path / f"{encoding}.csv", ("user_id", "text"), [(user, "我是油皮，想要保湿")], encoding
        )
        loaded, _ = load_user_text(path, catalog, RULES)
        assert loaded.user_docs is not None
        assert loaded.user_docs[0]["said:skin_type:oily"] == 1 and loaded.user_docs[0]["text:保湿"] == 1
