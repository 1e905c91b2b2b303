"""The launch snapshot (beat task, idempotent) and forecast against actual after the close."""

import datetime as dt

import pytest
from django.utils import timezone

from c2m.forecast.models import CampaignForecast
from c2m.forecast.services import forecast_combinations
from c2m.tasks import forecasts_snapshot_due_task
from preorders.models import Campaign, CampaignStatus
from tests.c2m.forecast_helpers import fans_with, past_campaign, pledge, tag
from tests.preorders.conftest import make_campaign, shop_product

pytestmark = pytest.mark.django_db


def test_snapshot_task_freezes_each_live_campaign_once(shop, owner, api_for):
    fans = fans_with(shop, 30, [tag("oily").pk])
    past_campaign(owner, shop, [(f, "L") for f in fans[:10]])
    product, v_l, v_m = shop_product(shop)
    draft = make_campaign(owner, product, launch=False)
    live = make_campaign(owner, product)
    assert forecasts_snapshot_due_task.apply().get() == 1
    assert not CampaignForecast.objects.filter(campaign=draft).exists()
    snap = CampaignForecast.objects.get(campaign=live)
    assert snap.as_of == live.launched_at
    assert [v["variant"] for v in snap.variants] == [v_l.pk, v_m.pk]
    frozen = snap.variants
    # More history after the launch changes the live forecast, never the snapshot.
    past_campaign(owner, shop, [(f, "M") for f in fans], days_ago=1)
    assert forecasts_snapshot_due_task.apply().get() == 0
    assert CampaignForecast.objects.filter(campaign=live).count() == 1
    assert CampaignForecast.objects.get(campaign=live).variants == frozen
    body = api_for(owner).get(f"/api/campaigns/{live.pk}/forecast/").json()
    assert body["snapshot"] is True and body["variants"] == frozen


def test_closed_campaign_page_shows_forecast_against_actual(shop, owner, client):
    fans = fans_with(shop, 30, [tag("oily").pk])
    past_campaign(owner, shop, [(f, "L") for f in fans[:10]])
    product, v_l, v_m = shop_product(shop)
    live = make_campaign(owner, product)
    forecasts_snapshot_due_task.apply()
    for f in fans[:4]:
        pledge(live, f, v_l, 2)
    pledge(live, fans[5], v_m, 1)
    Campaign.objects.filter(pk=live.pk).update(
        status=CampaignStatus.SUCCEEDED, deadline=timezone.now() - dt.timedelta(minutes=1)
    )
    client.force_login(owner)
    html = client.get(f"/campaigns/{live.pk}/").content.decode()
    assert 'id="forecast-card" data-closed="1" data-snapshot="1"' in html
    assert 'class="forecast-actual"' in html and 'class="forecast-band"' in html
    snap = CampaignForecast.objects.get(campaign=live)
    row_l = next(v for v in snap.variants if v["variant"] == v_l.pk)
    assert (
        f'<tr data-variant="{v_l.pk}"><td>L</td><td class="num" data-expected>{row_l["expected"]}</td>'
        in html
    )
    assert "data-actual>8</td>" in html and "data-actual>1</td>" in html
    assert "data-actual>9</th>" in html  # the total


def test_draft_page_shows_the_live_forecast(shop, owner, client):
    fans_with(shop, 10, [])
    product, v_l, _ = shop_product(shop)
    draft = make_campaign(owner, product, launch=False)
    client.force_login(owner)
    html = client.get(f"/campaigns/{draft.pk}/").content.decode()
    assert 'id="forecast-card" data-closed="0" data-snapshot="0"' in html
    assert f'<g data-variant="{v_l.pk}">' in html
    assert "data-actual" not in html


def test_forecast_combinations_uses_option_names_in_past_variants(shop, owner):
    oily = tag("oily").pk
    fans = fans_with(shop, 30, [oily])
    past_campaign(owner, shop, [(f, "L") for f in fans[:12]] + [(f, "M") for f in fans[12:14]])
    product, *_ = shop_product(shop)
    out = forecast_combinations(shop=shop, product=product, combinations=[{"size": "L"}, {"size": "M"}])
    assert [r["combination"] for r in out] == [{"size": "L"}, {"size": "M"}]
    for r in out:
        assert r["low"] <= r["expected"] <= r["high"]
    assert out[0]["expected"] > out[1]["expected"]
    assert forecast_combinations(shop=shop, product=product, combinations=[]) == []
