import json

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

GROUP_KEYS = {
    "test_fans",
    "coverage",
    "precision_shown",
    "mean_confidence_shown",
    "min_confidence_shown",
    "ece",
    "bins",
    "baselines",
}


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def known_set(tmp_path):
    """1500 fans. A group the vocabulary lacks ("diet") follows a word exactly; "我是油皮" is oily for only
    half of the fans who write it (the rest are combination), so it must not be shown as sure."""
    messages, tags = ["fan_id,text"], ["fan_id,tag"]
    for i in range(1500):
        if i % 2:
            messages.append(f"{i},我吃素食 谢谢")
            tags.append(f"{i},diet:vegan")
        else:
            messages.append(f"{i},我喜欢吃肉 谢谢")
            tags.append(f"{i},diet:meat")
        messages.append(f"{i},我是油皮")
        tags.append(f"{i},skin_type:{'oily' if (i // 2) % 2 else 'combination'}")
    tags.append("9999,diet:meat")  # a fan with no messages: counted, not an error
    return write(tmp_path, "m.csv", "\n".join(messages) + "\n"), write(
        tmp_path, "t.csv", "\n".join(tags) + "\n"
    )


def test_eval_reports_every_metric_with_known_answers(tmp_path):
    m, t = known_set(tmp_path)
    out = tmp_path / "out.json"
    call_command("tag_suggest_eval", messages=m, tags=t, json_path=str(out), seed=0)
    report = json.loads(out.read_text())
    assert report["fans"]["without_messages"] == 1 and report["fans"]["test"] == 450
    diet, skin = report["groups"]["diet"], report["groups"]["skin_type"]
    assert GROUP_KEYS <= set(diet) and set(diet["baselines"]) == {"majority", "phrase_rules"}
    assert len(diet["bins"]) == 10 and sum(b["count"] for b in diet["bins"]) == diet["candidates"]
    # The word decides the diet: every test fan gets a sure, right suggestion.
    assert diet["test_fans"] == 450 and diet["coverage"] == 1.0 and diet["precision_shown"] == 1.0
    assert diet["min_confidence_shown"] >= 0.6 and diet["ece"] <= 0.05
    assert diet["baselines"]["phrase_rules"]["coverage"] == 0.0
    # "油皮" is a coin toss: its calibrated confidence is about 0.5, below the threshold, so nothing shows,
    # although the phrase rule alone would claim every fan.
    assert skin["coverage"] == 0.0 and skin["precision_shown"] is None, skin
    assert skin["baselines"]["phrase_rules"]["coverage"] == 1.0
    assert 0.3 < skin["baselines"]["phrase_rules"]["precision"] < 0.7
    assert skin["ece"] <= 0.1, [(b["count"], b["precision"], b["mean_confidence"]) for b in skin["bins"]]


def test_eval_is_seeded(tmp_path):
    m, t = known_set(tmp_path)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    call_command("tag_suggest_eval", messages=m, tags=t, json_path=str(a), seed=3)
    call_command("tag_suggest_eval", messages=m, tags=t, json_path=str(b), seed=3)
    assert a.read_text() == b.read_text()


@pytest.mark.parametrize(
    ("messages", "tags", "error"),
    [
        ("", "fan_id,tag\n1,skin_type:oily\n", "is empty"),
        ("fan_id,text\n", "fan_id,tag\n1,skin_type:oily\n", "is empty"),
        ("fan_id,text\n1,hi\n", "fan_id,tag\n1,oily\n", "has no group"),
        (
            "fan_id,text\n1,hi\n",
            "fan_id,tag\n1,skin_type:oily\n1,skin_type:dry\n",
            "skin_type:dry, skin_type:oily",
        ),
        (b"fan_id,text\n1,\xff\xfe\xfa\n", "fan_id,tag\n1,skin_type:oily\n", "unknown encoding"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, messages, tags, error):
    out = tmp_path / "out.json"
    with pytest.raises(CommandError) as exc:
        call_command(
            "tag_suggest_eval",
            messages=write(tmp_path, "m.csv", messages),
            tags=write(tmp_path, "t.csv", tags),
            json_path=str(out),
        )
    assert error in str(exc.value) and "\n" not in str(exc.value)
    assert not out.exists()
