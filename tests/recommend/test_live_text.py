"""What fans said after training reaches serving (issue 15): the live text path, through HTTP.

Training runs first (the real model_train); the fans below chat only afterwards, so the model's own copy of
their text (as of training) is empty. Their picks and their place among the likely fans must come from what
they said since, read live: fan-sent messages only, the last 90 days, never staff messages, and nothing at
all for a fan who opted out of personalisation.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fans.chat import services as chat
from fans.chat.models import Message
from recommend.features import fan_messages, fan_talkers
from recommend.models import ModelStatus
from recommend.selectors import fan_chat_texts, fans_chat_texts, shop_talkers
from recommend.serving import recommend_for_fan, serving_model
from recommend.serving.live_text import live_text
from shops.models import ShopRole
from tests.factories import FanFactory, ShopMemberFactory
from tests.recommend.test_chat_serving import MATTE, MOIST, URLS, _client, _say, _seed, _train

SAID_ZH = "你在聊天中提到「"
FAN_SAID_ZH = "在聊天中提到过「"


@pytest.fixture(autouse=True)
def _artifacts(tmp_path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001
    from recommend.serving import serving_reset

    monkeypatch.setenv("FANSI_RECOMMEND_DIR", str(tmp_path / "models"))
    serving_reset()
    yield
    serving_reset()


@pytest.fixture(autouse=True)
def _no_send_limit(settings):  # noqa: ANN001
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 0}


def _staff_says(owner, fan, text: str) -> None:  # noqa: ANN001
    chat.message_send(user=owner, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text=text)


def _said_long_ago(fan, text: str) -> None:  # noqa: ANN001
    old = timezone.now() - dt.timedelta(days=91)
    Message.objects.filter(pk=_say(fan, text).pk).update(created_at=old)


def _opt_out(shop, fan) -> None:  # noqa: ANN001
    resp = _client(fan.user).post(
        f"/api/me/shops/{shop.pk}/personalisation/", {"opt_out": True}, format="json"
    )
    assert resp.status_code == 200 and resp.json() == {"opt_out": True}


def _trained_with_chat():
    version = _train()
    assert version.status == ModelStatus.READY, version.error
    model = serving_model()
    assert model is not None and "chat_users" in model.artifacts.regimes, version.notes
    assert model.artifacts.extra["text_as_of"] and "text_rules" in model.artifacts.extra
    return model


@pytest.mark.urls(URLS)
def test_a_fan_who_chats_after_training_gets_picks_from_what_they_said(shop, owner, no_quiet_hours) -> None:  # noqa: ANN001
    _seed(shop, owner)
    # Trained but silent until after training: the model has a row for this fan, with no text.
    quiet = FanFactory(shop=shop)
    model = _trained_with_chat()
    row = model.user_row(quiet.pk)
    assert row is not None and len(model.user_text(row)[0]) == 0

    # After training: a fan the model has never seen, and the quiet fan, start talking.
    newcomer = FanFactory(shop=shop)
    assert model.user_row(newcomer.pk) is None
    for text in MOIST:
        _say(newcomer, text)
    for text in MATTE:
        _say(quiet, text)
    # Only staff talked about 保湿 with this fan, and the fan themself only 91 days ago: neither counts.
    unheard = FanFactory(shop=shop)
    for text in MOIST:
        _staff_says(owner, unheard, text)
        _said_long_ago(unheard, text)
    # Said it, then opted out of personalisation: nothing they said may be used.
    opted = FanFactory(shop=shop)
    for text in MOIST:
        _say(opted, text)
    _opt_out(shop, opted)

    # The hot path's plain-SQL read is the statement training's reader makes (features.fan_messages).
    for fan in (newcomer, quiet, unheard, opted):
        assert fan_chat_texts(fan.pk) == fan_messages([fan.pk]).get(fan.pk, [])
    assert fan_chat_texts(unheard.pk) == [] and fan_chat_texts(opted.pk) == []
    assert sorted(fan_chat_texts(newcomer.pk)) == sorted(MOIST)
    # So are the plain-SQL readers of a shop's talkers (fans_for_product): the same fans, order and texts.
    everyone = [newcomer.pk, quiet.pk, unheard.pk, opted.pk]
    assert fans_chat_texts(everyone) == fan_messages(everyone) and newcomer.pk in fans_chat_texts(everyone)
    as_of = live_text(model).as_of
    for since in (None, as_of):
        assert shop_talkers(shop.pk, since=since, limit=100) == fan_talkers(shop.pk, since=since, limit=100)
    assert shop_talkers(shop.pk, since=as_of, limit=100) == [quiet.pk, newcomer.pk]

    staff = _client(owner)
    for fan, wanted in ((newcomer, "保湿"), (quiet, "控油")):
        resp = staff.get(f"/api/fans/{fan.pk}/recommendations/?k=4")
        assert resp.status_code == 200, resp.content
        picks = resp.json()["picks"]
        assert picks and all(p["regime"] == "chat_users" for p in picks), picks
        assert sum(p["product"]["name"].startswith(wanted) for p in picks) >= 3, picks
        said = [p["reason"] for p in picks if p["reason"]["zh"].startswith(SAID_ZH)]
        assert said and all("in chat" in r["en"] for r in said), [p["reason"] for p in picks]

        # The bot's /recommend draft: the same picks, saying they come from what the fan said.
        resp = staff.post(f"/api/fans/{fan.pk}/drafts/", {"command": "/recommend", "k": 4}, format="json")
        assert resp.status_code == 200, resp.content
        drafts = resp.json()["drafts"]
        assert [d["card"]["name"] for d in drafts] == [p["product"]["name"] for p in picks]
        assert any(d["reason"].startswith(SAID_ZH) for d in drafts), drafts

    resp = staff.get(f"/api/fans/{unheard.pk}/recommendations/?k=4")
    assert resp.status_code == 200
    picks = resp.json()["picks"]
    assert picks and all(p["regime"] == "unknown" for p in picks), picks
    assert not any("聊天" in p["reason"]["zh"] for p in picks)
    resp = staff.post(f"/api/fans/{unheard.pk}/drafts/", {"command": "/recommend", "k": 4}, format="json")
    assert resp.status_code == 200 and not any("聊天" in d["reason"] for d in resp.json()["drafts"])

    resp = staff.get(f"/api/fans/{opted.pk}/recommendations/?k=4")
    assert resp.status_code == 200
    picks = resp.json()["picks"]
    assert picks and all(p["regime"] == "unknown" for p in picks)
    assert not any("聊天" in p["reason"]["zh"] for p in picks)


@pytest.mark.urls(URLS)
def test_live_text_costs_one_statement_and_only_for_fans_without_history(shop, owner, no_quiet_hours) -> None:  # noqa: ANN001
    people, _ = _seed(shop, owner, fans=60)
    _trained_with_chat()
    warm = people[0][0]
    newcomer = FanFactory(shop=shop)
    for text in MOIST:
        _say(newcomer, text)
    silent = FanFactory(shop=shop)
    counts = {}
    for name, fan in (("warm", warm), ("newcomer", newcomer), ("silent", silent)):
        recommend_for_fan(fan, 5)  # tag names and the shop's candidates are cached after the first call
        with CaptureQueriesContext(connection) as ctx:
            picks = recommend_for_fan(fan, 5)
        counts[name] = len(ctx.captured_queries)
        assert picks
    assert picks[0].regime == "unknown"
    assert recommend_for_fan(newcomer, 5)[0].regime == "chat_users"
    assert recommend_for_fan(warm, 5)[0].regime == "warm_users"
    # A fan with history is served as before; a fan without pays one statement for what they said.
    assert counts["newcomer"] <= counts["warm"] + 1, counts
    assert counts["silent"] <= counts["warm"] + 1, counts


@pytest.mark.urls(URLS)
def test_likely_fans_rank_fans_by_what_they_said_since_training(shop, owner, no_quiet_hours) -> None:  # noqa: ANN001
    _, products = _seed(shop, owner, fans=60)
    _trained_with_chat()
    # Fans the model has never seen, untagged and without history: only what they said can tell them apart.
    # Created before the 保湿 talker, so a tie (nothing read) would list them first.
    silent = FanFactory(shop=shop, display_name="不说话")
    matte = FanFactory(shop=shop, display_name="控油党")
    for text in MATTE:
        _say(matte, text)
    moist = FanFactory(shop=shop, display_name="保湿党")
    for text in MOIST:
        _say(moist, text)
    unheard = FanFactory(shop=shop, display_name="只听店主说")
    for text in MOIST:
        _staff_says(owner, unheard, text)
        _said_long_ago(unheard, text)
    opted = FanFactory(shop=shop, display_name="不要个性化")
    for text in MOIST:
        _say(opted, text)
    _opt_out(shop, opted)

    # A trained 保湿 product: whatever recipe validation chose for chat fans can score it.
    product = products["moist"][0]
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    resp = _client(manager).get(f"/api/products/{product.pk}/likely-fans/?k=1000")
    assert resp.status_code == 200, resp.content
    listed = resp.json()["fans"]
    by_id = {f["id"]: (n, f) for n, f in enumerate(listed)}
    assert opted.pk not in by_id
    assert {moist.pk, matte.pk, silent.pk, unheard.pk} <= set(by_id)
    # What the fan said moves them: the 保湿 talker above the 控油 talker and above the fan who said nothing.
    assert by_id[moist.pk][0] < by_id[silent.pk][0] and by_id[moist.pk][0] < by_id[matte.pk][0]
    assert by_id[moist.pk][1]["score"] > max(by_id[silent.pk][1]["score"], by_id[matte.pk][1]["score"])
    reason = by_id[moist.pk][1]["reason"]
    assert reason["zh"].startswith(FAN_SAID_ZH) and "保湿" in reason["zh"], reason
    assert "in chat" in reason["en"]
    # Staff messages and messages older than 90 days count for nothing: scored like the silent fan.
    assert by_id[unheard.pk][1]["score"] == by_id[silent.pk][1]["score"]
    assert "聊天" not in by_id[unheard.pk][1]["reason"]["zh"]
    assert "聊天" not in by_id[silent.pk][1]["reason"]["zh"]
