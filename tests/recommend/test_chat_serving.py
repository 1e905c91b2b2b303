"""What fans said in chat, through the real wiring: messages sent through the chat service, the real training
run (model_train, what the beat task calls), then the recommendation endpoints."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from fans.chat import services as chat
from fans.chat.models import Message
from recommend.models import InteractionKind, ModelStatus, ModelVersion
from recommend.services import TrainOptions, interaction_record, model_train, product_tags_derive
from recommend.services.versions import _new_version_name
from recommend.serving import serving_model, serving_reset
from shops.models import ShopRole
from tests.factories import FanFactory, ProductFactory, ShopMemberFactory

URLS = "tests.recommend.urls"
FAST = TrainOptions(grid="tiny", eval_max_fit_seconds=5, fit_budget_seconds=10, num_threads=1)
MOIST = ("我想要保湿的面霜", "有没有补水保湿的", "保湿面霜还有货吗")
MATTE = ("有没有控油的洁面", "想买控油的", "控油洁面多少钱")


@pytest.fixture(autouse=True)
def _artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANSI_RECOMMEND_DIR", str(tmp_path / "models"))
    serving_reset()
    yield
    serving_reset()


@pytest.fixture(autouse=True)
def _no_send_limit(settings):  # noqa: ANN001
    # Seeding sends ~200 messages, 90 of them as the owner: the per-user send limit guards live traffic.
    settings.FANSI_CHAT = {**settings.FANSI_CHAT, "RATE_LIMIT_MESSAGES": 0}


def _say(fan, text: str) -> Message:  # noqa: ANN001
    message, _ = chat.message_send(
        user=fan.user, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text=text
    )
    return message


def _client(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.force_authenticate(user)
    return client


def _seed(shop, owner, *, fans: int = 90):  # noqa: ANN001
    """Untagged fans: those who ask for 保湿 pledge moisturisers, those who ask for 控油 pledge cleansers. The
    owner broadcasts 防晒 to everyone, and three months ago every fan talked about 美白: neither may count."""
    rng = random.Random(0)
    products = {"moist": [], "matte": []}
    for n in range(12):
        kind = "moist" if n % 2 else "matte"
        name = f"保湿面霜{n}" if kind == "moist" else f"控油洁面{n}"
        desc = "滋润保湿，适合干皮" if kind == "moist" else "清爽控油，适合油皮"
        products[kind].append(ProductFactory(shop=shop, name=name, description=desc, price=Decimal(60 + n)))
    product_tags_derive()
    people = []
    old = timezone.now() - dt.timedelta(days=100)
    for n in range(fans):
        kind = "moist" if n % 2 else "matte"
        fan = FanFactory(shop=shop)
        for text in rng.sample(MOIST if kind == "moist" else MATTE, 2):
            _say(fan, text)
        Message.objects.filter(pk=_say(fan, "美白精华有吗").pk).update(created_at=old)
        chat.message_send(
            user=owner, conversation_id=fan.conversation.pk, client_id=uuid.uuid4(), text="防晒喷雾新品上架"
        )
        for product in rng.sample(products[kind], 3):
            interaction_record(fan=fan, product=product, kind=InteractionKind.PLEDGE)
        people.append((fan, kind))
    return people, products


def _train() -> ModelVersion:
    version = ModelVersion.objects.create(version=_new_version_name())
    return model_train(version_id=version.pk, options=FAST)


@pytest.mark.urls(URLS)
def test_fans_known_by_what_they_said_get_picks_from_it(client, shop, owner, no_quiet_hours) -> None:  # noqa: ANN001
    _seed(shop, owner)
    # Fans who chatted but never pledged, before training: known by text alone.
    talker = FanFactory(shop=shop)
    for text in MOIST:
        _say(talker, text)
    opted = FanFactory(shop=shop)
    for text in MOIST:
        _say(opted, text)
    resp = _client(opted.user).post(
        f"/api/me/shops/{shop.pk}/personalisation/", {"opt_out": True}, format="json"
    )
    assert resp.status_code == 200 and resp.json() == {"opt_out": True}

    version = _train()
    assert version.status == ModelStatus.READY, version.error
    assert "chat_users" in version.metrics
    assert version.params["chat_users"]["text_served"] is True, version.notes
    model = serving_model()
    assert model is not None and model.artifacts.regimes["chat_users"]["text"] is True
    vocab = set(model.artifacts.user_vocab)
    assert "text:保湿" in vocab and "text:控油" in vocab
    # Staff (broadcast) text and messages older than 90 days never become features.
    assert not any("防晒" in f or "美白" in f for f in vocab)
    # An opted-out fan's words are not kept.
    assert len(model.user_text(model.user_row(opted.pk))[0]) == 0

    resp = _client(owner).get(f"/api/fans/{talker.pk}/recommendations/?k=4")
    assert resp.status_code == 200, resp.content
    picks = resp.json()["picks"]
    assert picks and all(p["regime"] == "chat_users" for p in picks)
    assert sum(p["product"]["name"].startswith("保湿") for p in picks) >= 3
    said = [p["reason"] for p in picks if p["reason"]["zh"].startswith("你在聊天中提到「")]
    assert said, [p["reason"] for p in picks]
    assert all("in chat" in r["en"] for r in said)

    # The bot's /recommend draft for the owner: the same picks, and it says where they come from.
    resp = _client(owner).post(
        f"/api/fans/{talker.pk}/drafts/", {"command": "/recommend", "k": 4}, format="json"
    )
    assert resp.status_code == 200, resp.content
    drafts = resp.json()["drafts"]
    assert [d["card"]["name"] for d in drafts] == [p["product"]["name"] for p in picks]
    assert any(d["reason"].startswith("你在聊天中提到「") for d in drafts)

    # The opted-out fan: no personalisation, nothing from chat.
    resp = _client(owner).get(f"/api/fans/{opted.pk}/recommendations/?k=4")
    assert resp.status_code == 200
    assert all(p["regime"] == "unknown" for p in resp.json()["picks"])
    assert not any("聊天" in p["reason"]["zh"] for p in resp.json()["picks"])

    # The model page shows the chat regime next to the others.
    client.force_login(owner)
    html = client.get("/recommend/models/").content.decode()
    assert "聊过天的新粉丝" in html and "同样的方法，不用聊天内容" in html


@pytest.mark.urls(URLS)
def test_likely_fans_leave_out_opted_out_fans_and_say_what_a_fan_mentioned(
    shop, owner, no_quiet_hours
) -> None:  # noqa: ANN001
    people, _ = _seed(shop, owner, fans=60)
    opted = [fan for fan, kind in people if kind == "moist"][:5]
    for fan in opted:
        assert (
            _client(fan.user)
            .post(f"/api/me/shops/{shop.pk}/personalisation/", {"opt_out": True}, format="json")
            .status_code
            == 200
        )
    version = _train()
    assert version.status == ModelStatus.READY, version.error
    product = ProductFactory(shop=shop, name="保湿精华", description="深层保湿")
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    resp = _client(manager).get(f"/api/products/{product.pk}/likely-fans/?k=60")
    assert resp.status_code == 200, resp.content
    listed = resp.json()["fans"]
    ids = {f["id"] for f in listed}
    assert ids and not ids & {fan.pk for fan in opted}
    assert any(f["reason"]["zh"].startswith("在聊天中提到过「") for f in listed), [
        f["reason"] for f in listed
    ]


def test_personalisation_switch_rejects_bad_input_and_other_fans_shops(shop, other_shop, fan) -> None:  # noqa: ANN001
    client = _client(fan.user)
    resp = client.post(f"/api/me/shops/{shop.pk}/personalisation/", {"opt_out": "yes"}, format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_opt_out"
    fan.refresh_from_db()
    assert fan.personalisation_opt_out is False
    assert (
        client.post(
            f"/api/me/shops/{other_shop.pk}/personalisation/", {"opt_out": True}, format="json"
        ).status_code
        == 404
    )
    assert client.post(
        f"/api/me/shops/{shop.pk}/personalisation/", {"opt_out": True}, format="json"
    ).json() == {"opt_out": True}
    fan.refresh_from_db()
    assert fan.personalisation_opt_out is True
