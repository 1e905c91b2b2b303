"""GET /api/campaigns/{id}/forecast/: the shape, who may see it, and what moves it."""

import pytest

from shops.models import ShopRole
from tests.c2m.forecast_helpers import fans_with, past_campaign, tag
from tests.factories import FanFactory, ShopFactory, ShopMemberFactory
from tests.preorders.conftest import make_campaign, shop_product

pytestmark = pytest.mark.django_db


def _url(campaign) -> str:
    return f"/api/campaigns/{campaign.pk}/forecast/"


def test_owner_gets_a_forecast_per_offered_variant(shop, owner, api_for):
    fans = fans_with(shop, 30, [tag("oily").pk])
    past_campaign(owner, shop, [(f, "L") for f in fans[:9]])
    product, v_l, v_m = shop_product(shop)
    draft = make_campaign(owner, product, launch=False)
    res = api_for(owner).get(_url(draft))
    assert res.status_code == 200, res.content
    body = res.json()
    assert [row["variant"] for row in body["variants"]] == [v_l.pk, v_m.pk]
    for row in body["variants"]:
        assert set(row) >= {"variant", "expected", "low", "high", "name", "sku"}
        assert row["low"] <= row["expected"] <= row["high"]
    assert body["total"]["low"] <= body["total"]["expected"] <= body["total"]["high"]
    assert body["inputs"]["fans"] == 30 and body["inputs"]["past_campaigns"] == 1
    assert body["snapshot"] is False and body["closed"] is False
    assert "actual" not in body["variants"][0]


def test_staff_of_every_role_see_it_and_others_get_coded_errors(shop, owner, api_for):
    fans_with(shop, 5, [])
    product, *_ = shop_product(shop)
    draft = make_campaign(owner, product, launch=False)
    live = make_campaign(owner, product)
    assistant = ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user
    manager = ShopMemberFactory(shop=shop, role=ShopRole.MANAGER).user
    for user in (assistant, manager):
        assert api_for(user).get(_url(live)).status_code == 200
    other_owner = ShopFactory().owner
    res = api_for(other_owner).get(_url(draft))
    assert res.status_code == 404 and res.json()["code"] == "not_found"
    res = api_for(other_owner).get(_url(live))
    assert res.status_code == 403 and res.json()["code"] == "forbidden"
    fan = FanFactory(shop=shop)
    res = api_for(fan.user).get(_url(live))
    assert res.status_code == 403 and res.json()["code"] == "forbidden"
    assert api_for(fan.user).get(_url(draft)).status_code == 404
    assert api_for(owner).get("/api/campaigns/999999/forecast/").status_code == 404


def test_anonymous_is_refused(shop, owner, client):
    product, *_ = shop_product(shop)
    live = make_campaign(owner, product)
    assert client.get(_url(live)).status_code in (401, 403)


def test_fans_who_joined_before_forecast_more_units(owner, api_for):
    """Two shops, same size: the one whose fans pledged in its past campaigns expects more units."""
    keen_shop, cool_shop = ShopFactory(owner=owner), ShopFactory(owner=owner)
    keen = fans_with(keen_shop, 40, [])
    cool = fans_with(cool_shop, 40, [])
    for days in (40, 20):
        past_campaign(owner, keen_shop, [(f, "L") for f in keen[:30]], days_ago=days)
        past_campaign(owner, cool_shop, [(f, "L") for f in cool[:2]], days_ago=days)
    totals = {}
    for name, shop in (("keen", keen_shop), ("cool", cool_shop)):
        product, *_ = shop_product(shop)
        draft = make_campaign(owner, product, launch=False)
        totals[name] = api_for(owner).get(_url(draft)).json()["total"]["expected"]
    assert totals["keen"] > 3 * totals["cool"] > 0


def test_tag_shares_move_the_split(shop, owner, api_for):
    """Oily fans chose L and dry fans M before: new oily fans tilt the forecast to L, new dry fans to M."""
    from fans.chat.models import Fan

    oily, dry = tag("oily").pk, tag("dry").pk
    past_oily = fans_with(shop, 20, [oily])
    past_dry = fans_with(shop, 20, [dry])
    past_campaign(owner, shop, [(f, "L") for f in past_oily] + [(f, "M") for f in past_dry])
    product, v_l, v_m = shop_product(shop)
    draft = make_campaign(owner, product, launch=False)
    newcomers = fans_with(shop, 60, [oily])
    rows = {r["variant"]: r["expected"] for r in api_for(owner).get(_url(draft)).json()["variants"]}
    assert rows[v_l.pk] > 1.5 * rows[v_m.pk]
    Fan.objects.filter(pk__in=[f.pk for f in newcomers]).update(tag_ids=[dry])
    rows = {r["variant"]: r["expected"] for r in api_for(owner).get(_url(draft)).json()["variants"]}
    assert rows[v_m.pk] > 1.5 * rows[v_l.pk]
