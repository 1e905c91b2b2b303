"""Training from the database, the serving switch, serving rules and the recommendation API."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from core.errors import Conflict
from fans.chat.models import Message
from fans.crm.models import Segment, Tag, TagGroup
from fans.crm.services.tagging import fan_tags_bulk_add
from recommend import services
from recommend.evaluation import RankerSpec
from recommend.models import Interaction, InteractionKind, ModelStatus, ModelVersion, ProductTag
from recommend.services import TrainOptions, interaction_record, model_train, product_tags_derive
from recommend.services.versions import _new_version_name
from recommend.serving import (
    SIMILAR_FANS,
    fans_for_product,
    picks_as_json,
    recommend_for_fan,
    serving_model,
    serving_reset,
)
from recommend.training import artifacts_dir
from shops.models import Product, ShopRole
from tests.factories import FanFactory, ProductFactory, ShopMemberFactory, VariantFactory

URLS = "tests.recommend.urls"
FAST = TrainOptions(grid="tiny", eval_max_fit_seconds=5, fit_budget_seconds=10, num_threads=1)


@pytest.fixture(autouse=True)
def _artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANSI_RECOMMEND_DIR", str(tmp_path / "models"))
    serving_reset()
    yield
    serving_reset()


def _tag(code: str) -> Tag:
    return Tag.objects.get(group__code="skin_type", group__shop__isnull=True, code=code)


def _tag_fan(fan, tag: Tag) -> None:  # noqa: ANN001
    # Through the tagging service, which keeps Fan.tag_ids (what serving reads) in step with FanTag.
    fan_tags_bulk_add(fan_ids=[fan.pk], tags=[tag], source="owner", actor=None)


def _seed(shop, *, fans: int = 60, interactions: bool = True):  # noqa: ANN001
    """Oily fans pledge oily products, dry fans dry ones (tags decide)."""
    rng = random.Random(0)
    oily, dry = _tag("oily"), _tag("dry")
    products = {"oily": [], "dry": []}
    for n in range(16):
        skin = "oily" if n % 2 else "dry"
        desc = "清爽控油，适合油皮" if skin == "oily" else "滋润保湿，适合干皮"
        products[skin].append(
            ProductFactory(shop=shop, name=f"{skin}{n}", description=desc, price=Decimal(50 + 20 * n))
        )
    product_tags_derive()
    people = []
    for n in range(fans):
        skin = "oily" if n % 2 else "dry"
        fan = FanFactory(shop=shop)
        _tag_fan(fan, oily if skin == "oily" else dry)
        people.append((fan, skin))
        if interactions:
            for product in rng.sample(products[skin], 4):
                interaction_record(fan=fan, product=product, kind=InteractionKind.PLEDGE)
    return people, products


def _train() -> ModelVersion:
    version = ModelVersion.objects.create(version=_new_version_name())
    return model_train(version_id=version.pk, options=FAST)


def test_product_tags_derived_from_descriptions(shop) -> None:  # noqa: ANN001
    product = ProductFactory(shop=shop, description="适合油皮的控油洁面，平价好用")
    assert product_tags_derive() >= 2
    tags = {f"{t.tag.group.code}:{t.tag.code}" for t in ProductTag.objects.filter(product=product)}
    assert {"skin_type:oily", "preference:value"} <= tags
    assert product_tags_derive() == 0


def test_training_with_no_interactions_serves_popularity_only(shop) -> None:  # noqa: ANN001
    _seed(shop, fans=4, interactions=False)
    version = _train()
    assert version.status == ModelStatus.READY and version.is_serving
    assert version.popularity_only
    assert any("popularity-only" in note for note in version.notes)
    assert version.served and all(s["name"] == "popularity" for s in version.served.values())
    fan = shop.fans.first()
    picks = recommend_for_fan(fan, 3)
    # Nobody has bought anything: "本店热销" (popular) would be untrue, so the plain reason is shown.
    assert len(picks) == 3 and all(p.reason.zh == "为你推荐" for p in picks)


def test_serving_uses_tags_for_new_fans_and_excludes_owned_and_unavailable(shop) -> None:  # noqa: ANN001
    people, products = _seed(shop)
    version = _train()
    assert version.status == ModelStatus.READY, version.error
    assert set(version.metrics) == {"warm_users", "cold_users", "cold_items"}
    assert version.progress == 1.0

    warm, skin = people[1]
    owned = set(Interaction.objects.filter(fan=warm).values_list("product_id", flat=True))
    unavailable = next(p for p in products[skin] if p.pk not in owned)
    unavailable.is_available = False
    unavailable.save()
    sold_out = next(p for p in products[skin] if p.pk not in owned and p != unavailable)
    VariantFactory(product=sold_out, is_available=False)
    picks = recommend_for_fan(warm, 10)
    picked = {p.product.pk for p in picks}
    assert picks and not picked & owned
    assert unavailable.pk not in picked and sold_out.pk not in picked
    assert all(p.reason.zh and p.reason.en and p.ranker for p in picks)
    assert picks[0].regime == "warm_users"

    # A fan who joined after training, known only by a tag: the tags-only regime, their skin type first.
    newcomer = FanFactory(shop=shop)
    _tag_fan(newcomer, _tag("oily"))
    picks = recommend_for_fan(newcomer, 4)
    assert picks[0].regime == "cold_users"
    assert sum(p.product.name.startswith("oily") for p in picks) >= 3
    assert any(p.reason.zh in ("油皮粉丝都在买", SIMILAR_FANS.zh) for p in picks)

    # A tag the model never saw (a shop's private group made after training) is ignored safely.
    group = TagGroup.objects.create(shop=shop, code="vip", name_zh="会员", name_en="VIP")
    stranger = FanFactory(shop=shop)
    _tag_fan(stranger, Tag.objects.create(group=group, code="gold", name_zh="金", name_en="Gold"))
    picks = recommend_for_fan(stranger, 3)
    assert [p.regime for p in picks] == ["unknown"] * 3 and picks[0].reason.zh == "本店热销"


def test_picks_take_three_queries_and_see_catalogue_changes_on_the_next_call(
    shop, django_assert_num_queries
) -> None:  # noqa: ANN001
    people, products = _seed(shop)
    _train()
    fan, skin = people[1]
    first = recommend_for_fan(fan, 5)  # loads the model and the tag vocabulary
    # The fan's state, the candidates' display fields, and the facts each reason claims (serving.truth).
    with django_assert_num_queries(3):
        again = recommend_for_fan(fan, 5)
    assert [p.product.pk for p in again] == [p.product.pk for p in first]

    # No availability cache: a product taken off sale or sold out is gone from the very next call.
    top = first[0].product
    Product.objects.filter(pk=top.pk).update(is_available=False)
    VariantFactory(product=Product.objects.get(pk=first[1].product.pk), is_available=False)
    picked = {p.product.pk for p in recommend_for_fan(fan, 5)}
    assert top.pk not in picked and first[1].product.pk not in picked

    # A product created after training is a candidate on the next call (the new-products stamp changed).
    new = ProductFactory(
        shop=shop,
        name=f"{skin}-new",
        description="清爽控油，适合油皮" if skin == "oily" else "滋润保湿，适合干皮",
    )
    product_tags_derive(product_ids=[new.pk])
    picks = recommend_for_fan(fan, 16)
    assert new.pk in {p.product.pk for p in picks}
    body = picks_as_json(picks)[0]["product"]
    assert body["price"] == str(Product.objects.get(pk=body["id"]).price) and body["image"] == ""
    new.delete()
    assert new.pk not in {p.product.pk for p in recommend_for_fan(fan, 16)}


def test_fans_for_a_new_product_prefer_matching_tags(shop) -> None:  # noqa: ANN001
    people, _ = _seed(shop)
    _train()
    new = ProductFactory(shop=shop, name="新品控油精华", description="适合油皮")
    product_tags_derive(product_ids=[new.pk])
    picks = fans_for_product(new, 10)
    skins = dict((fan.pk, skin) for fan, skin in people)
    assert len(picks) == 10
    assert sum(skins.get(p.fan.pk) == "oily" for p in picks) >= 8
    assert all(p.reason.zh for p in picks)


def test_failed_training_keeps_the_serving_model(shop) -> None:  # noqa: ANN001
    _seed(shop, fans=20)
    first = _train()
    before = serving_model()
    assert before is not None and before.version == first.version
    with mock.patch("recommend.services.versions.factorize", side_effect=RuntimeError("disk on fire")):
        failed = _train()
    assert failed.status == ModelStatus.FAILED and "disk on fire" in failed.error and not failed.is_serving
    first.refresh_from_db()
    assert first.is_serving
    assert serving_model().version == first.version


def test_switch_refuses_incomplete_artifacts_and_only_one_version_serves(shop, tmp_path) -> None:  # noqa: ANN001
    _seed(shop, fans=10)
    first = _train()
    second = _train()
    assert second.is_serving and not ModelVersion.objects.get(pk=first.pk).is_serving
    (artifacts_dir() / first.version / "meta.json").unlink()
    with pytest.raises(Conflict):
        services.model_switch(version_id=first.pk)
    assert ModelVersion.objects.get(is_serving=True).pk == second.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=first.pk).update(is_serving=True)


def test_train_request_refuses_a_second_concurrent_run(db, django_capture_on_commit_callbacks) -> None:  # noqa: ANN001
    with mock.patch("recommend.tasks.model_train_task.delay_on_commit") as delay:
        version = services.model_train_request()
        delay.assert_called_once_with(version.pk)
        with pytest.raises(Conflict):
            services.model_train_request()


def test_interaction_record_is_idempotent_with_a_key(shop, fan) -> None:  # noqa: ANN001
    product = ProductFactory(shop=shop)
    first, created = interaction_record(fan=fan, product=product, kind="pledge", key="pledge:1")
    again, created_again = interaction_record(fan=fan, product=product, kind="pledge", key="pledge:1")
    assert created and not created_again and first.pk == again.pk and first.weight == 3.0


# --- API -----------------------------------------------------------------------------------------------


def _client(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.urls(URLS)
def test_recommendations_api_for_staff_and_404_for_others(shop, owner, other_shop) -> None:  # noqa: ANN001
    people, _ = _seed(shop, fans=10)
    _train()
    fan = people[0][0]
    resp = _client(owner).get(f"/api/fans/{fan.pk}/recommendations/?k=3")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert len(body["picks"]) == 3 and body["picks"][0]["reason"]["zh"] and body["version"]
    assert _client(other_shop.owner).get(f"/api/fans/{fan.pk}/recommendations/").status_code == 404
    assert _client(owner).get("/api/fans/999999/recommendations/").status_code == 404
    assert _client(fan.user).get(f"/api/fans/{fan.pk}/recommendations/").status_code == 404
    assert _client(owner).get(f"/api/fans/{fan.pk}/recommendations/?k=0").status_code == 400


@pytest.mark.urls(URLS)
def test_send_pick_as_product_card_and_fan_records_click(shop, owner, no_quiet_hours) -> None:  # noqa: ANN001
    people, products = _seed(shop, fans=4)
    fan = people[0][0]
    product = products["dry"][0]
    resp = _client(owner).post(
        f"/api/fans/{fan.pk}/recommendations/send/",
        {"product": product.pk, "reason": "干皮粉丝都在买", "client_id": str(uuid.uuid4())},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    message = Message.objects.get(pk=resp.json()["message"])
    assert message.kind == "product_card" and message.payload["product"] == product.pk
    assert message.payload["reason"] == "干皮粉丝都在买"

    assert (
        _client(owner).post("/api/recommend/card-clicks/", {"message": message.pk}, format="json").status_code
        == 404
    )
    resp = _client(fan.user).post("/api/recommend/card-clicks/", {"message": message.pk}, format="json")
    assert resp.status_code == 201
    assert (
        _client(fan.user)
        .post("/api/recommend/card-clicks/", {"message": message.pk}, format="json")
        .status_code
        == 200
    )
    assert Interaction.objects.filter(fan=fan, product=product, kind="card_click").count() == 1


@pytest.mark.urls(URLS)
def test_likely_fans_and_save_as_segment(shop, other_shop) -> None:  # noqa: ANN001
    _seed(shop, fans=12)
    _train()
    product = ProductFactory(shop=shop, description="适合油皮")
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    resp = _client(manager).get(f"/api/products/{product.pk}/likely-fans/?k=5")
    assert resp.status_code == 200 and len(resp.json()["fans"]) == 5
    assert _client(other_shop.owner).get(f"/api/products/{product.pk}/likely-fans/").status_code == 404
    resp = _client(manager).post(
        f"/api/products/{product.pk}/likely-fans/save-segment/",
        {"name": "新品种子粉丝", "k": 5},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    segment = Segment.objects.get(pk=resp.json()["id"])
    assert len(segment.filter["fan_ids"]) == 5
    from fans.crm.filters import fan_queryset

    assert fan_queryset(shop, segment.filter).count() == 5


@pytest.mark.urls(URLS)
def test_model_page_shows_metrics_for_staff(client, shop, owner, stranger) -> None:  # noqa: ANN001
    _seed(shop, fans=10)
    _train()
    client.force_login(owner)
    resp = client.get("/recommend/models/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "<svg" in html and "popularity" in html and "Train now" not in html
    assert client.post("/recommend/models/train/").status_code == 403
    client.force_login(stranger)
    assert client.get("/recommend/models/").status_code == 403


def test_prune_keeps_the_serving_and_newest_artifacts(tmp_path, monkeypatch, db):
    from recommend.models import ModelVersion
    from recommend.services import models_prune

    monkeypatch.setenv("FANSI_RECOMMEND_DIR", str(tmp_path))
    names = [f"v{i}" for i in range(4)]
    for i, name in enumerate(names):
        ModelVersion.objects.create(version=name, status="ready", is_serving=(i == 0))
        (tmp_path / name).mkdir()
    (tmp_path / "orphan").mkdir()
    removed = models_prune(keep=2)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "v0" in left  # serving, though oldest
    assert "orphan" not in left and removed == len(names) + 1 - len(left)
    assert len(left) == 3


@pytest.mark.parametrize(
    "served",
    [
        RankerSpec("ease", params=(("l2", 10.0),)),
        RankerSpec("als", params=(("factors", 8.0), ("regularization", 0.05), ("alpha", 10.0))),
    ],
)
def test_training_serves_a_collaborative_ranker_when_validation_picks_it(shop, served) -> None:  # noqa: ANN001
    from recommend.services import versions

    people, _ = _seed(shop)
    real = versions.evaluate_regime

    def pick_collaborative(catalog, regime, **kwargs):  # noqa: ANN001, ANN202
        result = real(catalog, regime, **kwargs)
        if regime == "warm_users":
            result.served = served
        return result

    with mock.patch.object(versions, "evaluate_regime", pick_collaborative):
        version = _train()
    assert version.status == ModelStatus.READY, version.error
    warm, _ = people[1]
    owned = set(Interaction.objects.filter(fan=warm).values_list("product_id", flat=True))
    picks = recommend_for_fan(warm, 5)
    assert picks and picks[0].regime == "warm_users" and picks[0].ranker == served.name
    assert not {p.product.pk for p in picks} & owned
