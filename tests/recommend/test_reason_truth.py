"""A recommendation reason is shown only when it is true for that pair (recommend.serving.truth)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from recommend.models import InteractionKind
from recommend.services import interaction_record
from recommend.serving import fans_for_product, recommend_for_fan, serving_reset
from recommend.serving.reasons import ACTIVE_FAN, FOR_YOU, POPULAR, SHOP_FAN, SIMILAR_BUYERS
from recommend.serving.truth import pick_facts, scope_applies
from tests.factories import FanFactory, ProductFactory
from tests.recommend.test_serving import _seed, _tag, _tag_fan, _train

URLS = "tests.recommend.urls"


@pytest.fixture(autouse=True)
def _artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANSI_RECOMMEND_DIR", str(tmp_path / "models"))
    serving_reset()
    yield
    serving_reset()


def test_skin_type_buyers_claim_beauty_products_only(shop) -> None:  # noqa: ANN001
    dry = _tag("dry")
    cream = ProductFactory(shop=shop, name="保湿霜", category="beauty")
    candle = ProductFactory(shop=shop, name="香薰蜡烛", category="home")
    serum = ProductFactory(shop=shop, name="精华", category="beauty")
    for _ in range(2):
        fan = FanFactory(shop=shop)
        _tag_fan(fan, dry)
        for product in (cream, candle):
            interaction_record(fan=fan, product=product, kind=InteractionKind.PLEDGE)
    oily_fan = FanFactory(shop=shop)
    _tag_fan(oily_fan, _tag("oily"))
    interaction_record(fan=oily_fan, product=serum, kind=InteractionKind.PURCHASE)
    # A click is not buying: a product only clicked has no buyers.
    interaction_record(fan=fan, product=serum, kind=InteractionKind.CARD_CLICK)
    mask = ProductFactory(shop=shop, name="面膜", category="beauty")
    interaction_record(fan=fan, product=mask, kind=InteractionKind.CARD_CLICK)
    buyers, bought = pick_facts(
        [dry.pk], {cream.pk: "beauty", candle.pk: "home", serum.pk: "beauty", mask.pk: "beauty"}
    )
    # Whether each has buyers (existence: counting them all cost hundreds of ms per call at 1M interactions).
    assert buyers == {cream.pk: 1, candle.pk: 1, serum.pk: 1}
    # Candles are home goods: "干皮粉丝都在买" is never claimed for them, even though dry-skin fans bought one.
    assert bought == {(dry.pk, cream.pk)}
    assert (
        scope_applies("all", "home")
        and scope_applies("beauty", "beauty")
        and not scope_applies("beauty", "home")
    )


def test_without_a_model_popular_needs_buyers(shop, owner) -> None:  # noqa: ANN001
    sold = ProductFactory(shop=shop, name="热销")
    unsold = ProductFactory(shop=shop, name="没人买")
    buyer, fan = FanFactory(shop=shop), FanFactory(shop=shop)
    interaction_record(fan=buyer, product=sold, kind=InteractionKind.PLEDGE)
    reasons = {p.product.pk: p.reason for p in recommend_for_fan(fan, 5)}
    assert reasons[sold.pk] == POPULAR and reasons[unsold.pk] == FOR_YOU
    # Through the API too.
    client = APIClient()
    client.force_authenticate(owner)
    body = client.get(f"/api/fans/{fan.pk}/recommendations/?k=5").json()
    by_id = {p["product"]["id"]: p["reason"]["zh"] for p in body["picks"]}
    assert by_id[sold.pk] == "本店热销" and by_id[unsold.pk] == "为你推荐"


def test_a_product_with_no_buyers_never_claims_similar_buyers(shop) -> None:  # noqa: ANN001
    _seed(shop, fans=30)
    _train()
    new = ProductFactory(shop=shop, name="新品", description="适合油皮")
    picks = fans_for_product(new, 20)
    assert picks and all(p.reason != SIMILAR_BUYERS for p in picks)
    # Every fan the seed made has pledged: "本店活跃粉丝" is true of them; a fan with no activity is not active.
    quiet = FanFactory(shop=shop)
    reasons = {p.fan.pk: p.reason for p in fans_for_product(new, 100)}
    assert reasons.get(quiet.pk) in (None, SHOP_FAN) and ACTIVE_FAN != SHOP_FAN


def test_trained_picks_claim_tag_buying_only_when_true(shop) -> None:  # noqa: ANN001
    people, products = _seed(shop, fans=40)
    _train()
    # A dry-skin fan: any "干皮粉丝都在买" pick must be a beauty product that dry-skin fans pledged.
    fan = next(f for f, skin in people if skin == "dry")
    picks = recommend_for_fan(fan, 8)
    dry = _tag("dry")
    facts_buyers, bought = pick_facts([dry.pk], {p.product.pk: p.product.category for p in picks})
    for p in picks:
        if p.reason.zh == "干皮粉丝都在买":
            assert (dry.pk, p.product.pk) in bought
        if p.reason.zh in ("本店热销", "和你相似的粉丝认购过"):
            assert facts_buyers.get(p.product.pk)
    assert picks and all(p.reason.zh for p in picks)
    if picks[0].ranker == "popularity":
        # Ranked by best sellers: the reason says so, and never "fans like you".
        assert {p.reason for p in picks} <= {POPULAR, FOR_YOU}


@pytest.mark.urls(URLS)
def test_the_model_page_speaks_plainly_and_shows_each_shop_its_own_figures(
    client, shop, owner, other_shop
) -> None:  # noqa: ANN001
    from fans.chat.models import Message

    people, products = _seed(shop, fans=10)
    _train()
    fan = people[0][0]
    product = next(p for p in products[people[0][1]] if not fan.interactions.filter(product=p).exists())
    # One recommendation card, then the fan pledges its product: one of one taken.
    # Stored as the chat stores a sent card (the send itself is tested in fans/chat; quiet hours aside).
    Message.objects.create(
        conversation=fan.conversation,
        seq=fan.conversation.last_seq + 1,
        sender=owner,
        side="shop",
        kind="product_card",
        payload={"product": product.pk, "reason": "本店热销"},
    )
    interaction_record(fan=fan, product=product, kind=InteractionKind.PLEDGE)
    client.force_login(owner)
    html = client.get("/recommend/models/").content.decode()
    assert "老粉丝（有认购记录）" in html and "按全店热销排序" in html and "所有店铺" in html
    # The jargon stays in the details toggle only.
    visible, _, details = html.partition('<details class="rec-details">')
    assert "precision_at_k" not in visible and "NDCG" not in visible and "precision_at_k" in details
    shop_part = html.split('id="rec-shop"')[1].split("</section>")[0]
    assert "10 位粉丝" in shop_part and "1 张，其中 1 张" in shop_part and "(100.0%)" in shop_part
    # Another shop's owner sees their own (empty) figures, not this shop's.
    client.force_login(other_shop.owner)
    other = client.get("/recommend/models/").content.decode().split('id="rec-shop"')[1].split("</section>")[0]
    assert other_shop.name in other and "0 位粉丝" in other and "(100.0%)" not in other
