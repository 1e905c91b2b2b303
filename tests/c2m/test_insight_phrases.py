"""Request phrases: jieba segmentation, cue words and particles stripped, near-identical wordings share a key,
and text with a phone number, an @mention or a known name is recognised as personal."""

from c2m.insight.phrases import has_personal_data, names_pattern, request_phrases


def keys(text: str, ignore=("羽绒服",)) -> list[tuple[str, ...]]:
    return [p.key for p in request_phrases(text, ignore=ignore)]


def test_near_identical_requests_share_one_key():
    wordings = [
        "能不能出大码",
        "有没有大码啊",
        "希望能出大码！",
        "这款羽绒服能不能出个大码的",
        "ＸＸ羽绒服可以出大码吗",
    ]
    assert {k for w in wordings for k in keys(w) if "xx" not in k} == {("大码",)}
    assert keys("希望无香") == keys("想要无香的") == [("无香",)]
    assert keys("颜色太少") == keys("颜色太少了吧") == [("少", "颜色")]


def test_a_message_without_a_request_cue_gives_no_phrase_and_two_clauses_give_two():
    assert keys("羽绒服很好看") == [] and keys("什么时候发货") == []
    assert keys("能不能出大码，颜色太少了") == [("大码",), ("少", "颜色")]
    # The same request twice in one message is one phrase.
    assert keys("能不能出大码！能不能出大码") == [("大码",)]


def test_phone_numbers_mentions_and_known_names_are_personal():
    people = names_pattern(["小红", "fan12", "A"])
    assert has_personal_data("打我电话 138 1234 5678", people)
    assert has_personal_data("+86-13912345678 联系", people)
    assert has_personal_data("@阿花 你也想要吧", people)
    assert has_personal_data("小红说想要大码", people) and has_personal_data("FAN12 也要", people)
    # One-letter names never match (every "A码" would be a person).
    assert not has_personal_data("能不能出A码", people)
    assert not has_personal_data("能不能出大码 订单号 2026120412", people)
