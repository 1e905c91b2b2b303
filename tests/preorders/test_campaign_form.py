"""The campaign form's API: every field's error at once, labelled in the UI language, and the variants on
offer (pledges and the fan page offer only those)."""

import datetime as dt

import pytest
from django.utils import timezone

from preorders.models import Campaign, Pledge, Tier
from tests.factories import FanFactory
from tests.preorders.test_api import body

pytestmark = pytest.mark.django_db


def test_every_error_at_once_with_labels_and_nothing_stored(api_for, owner, product):
    bad = body(
        product[0],
        title="",
        target_quantity=0,
        cap=0,
        deposit_percent=150,
        deadline="2001-01-01T00:00:00Z",
        tiers=[{"min_quantity": 10, "unit_price": "400"}, {"min_quantity": 5, "unit_price": "300"}],
    )
    r = api_for(owner).post("/api/campaigns/", bad, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.status_code == 400
    data = r.json()
    assert data["code"] == "title_invalid"  # the first error's code and message, as before
    fields = data["detail"]["fields"]
    assert set(fields) == {"title", "target_quantity", "cap", "deposit_percent", "deadline", "tiers"}
    assert all(isinstance(v, list) and v for v in fields.values())
    assert "target_quantity" not in fields["target_quantity"][0]  # a label, never the raw field name
    assert "目标数量" in fields["target_quantity"][0]
    assert Campaign.objects.count() == 0 and Tier.objects.count() == 0


def test_labels_follow_the_ui_language(api_for, owner, product):
    r = api_for(owner).post(
        "/api/campaigns/", body(product[0], target_quantity="many"), format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert r.status_code == 400 and r.json()["code"] == "target_quantity_invalid"
    assert r.json()["detail"]["fields"] == {"target_quantity": ["Target quantity must be a whole number."]}


def test_cap_below_target_and_falling_tiers_are_flagged_on_their_fields(api_for, owner, product):
    bad = body(
        product[0],
        target_quantity=10,
        cap=8,
        tiers=[{"min_quantity": 10, "unit_price": "400"}, {"min_quantity": 20, "unit_price": "450"}],
    )
    r = api_for(owner).post("/api/campaigns/", bad, format="json")
    assert r.status_code == 400 and r.json()["code"] == "cap_below_target"
    assert set(r.json()["detail"]["fields"]) == {"cap", "tiers"}


def test_single_error_keeps_its_code_and_detail(api_for, owner, product):
    r = api_for(owner).post("/api/campaigns/", body(product[0], target_quantity=5, cap=None), format="json")
    assert r.status_code == 400 and r.json()["code"] == "below_moq"
    assert r.json()["detail"]["moq"] == 10 and set(r.json()["detail"]["fields"]) == {"target_quantity"}


def test_variant_choice_limits_pledges_and_the_fan_page(api_for, client, owner, shop, product):
    _p, v_l, v_m = product
    created = api_for(owner).post("/api/campaigns/", body(product[0], variants=[v_m.pk]), format="json")
    assert created.status_code == 201, created.json()
    cid = created.json()["id"]
    assert list(Campaign.objects.get(pk=cid).variants.values_list("pk", flat=True)) == [v_m.pk]
    assert api_for(owner).post(f"/api/campaigns/{cid}/launch/").status_code == 200
    fan = FanFactory(shop=shop)
    refused = api_for(fan.user).post(
        f"/api/campaigns/{cid}/pledges/", {"variant": v_l.pk, "quantity": 1}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "variant_invalid"
    assert not Pledge.objects.filter(campaign_id=cid).exists()
    ok = api_for(fan.user).post(
        f"/api/campaigns/{cid}/pledges/", {"variant": v_m.pk, "quantity": 1}, format="json"
    )
    assert ok.status_code == 201 and ok.json()["variant"] == v_m.pk
    client.force_login(fan.user)
    page = client.get(f"/campaigns/{cid}/join/", follow=True).content.decode()
    assert f'value="{v_m.pk}"' in page and f'value="{v_l.pk}"' not in page


def test_no_variants_chosen_offers_all(api_for, owner, shop, product):
    created = api_for(owner).post("/api/campaigns/", body(product[0]), format="json")
    cid = created.json()["id"]
    assert api_for(owner).post(f"/api/campaigns/{cid}/launch/").status_code == 200
    fan = FanFactory(shop=shop)
    for variant in product[1:]:
        r = api_for(fan.user).post(
            f"/api/campaigns/{cid}/pledges/", {"variant": variant.pk, "quantity": 1}, format="json"
        )
        assert r.status_code == 201


@pytest.mark.parametrize("variants", [["x"], [True], "all", [999999]])
def test_bad_variant_choice_is_400(api_for, owner, product, variants):
    r = api_for(owner).post("/api/campaigns/", body(product[0], variants=variants), format="json")
    assert r.status_code == 400 and r.json()["code"] == "variants_invalid"
    assert "variants" in r.json()["detail"]["fields"]
    assert Campaign.objects.count() == 0


def test_other_shops_variant_is_refused(api_for, owner, other_shop, product):
    from tests.preorders.conftest import shop_product

    _other, foreign, _ = shop_product(other_shop)
    deadline = (timezone.now() + dt.timedelta(days=2)).isoformat()
    r = api_for(owner).post(
        "/api/campaigns/", body(product[0], variants=[foreign.pk], deadline=deadline), format="json"
    )
    assert r.status_code == 400 and r.json()["code"] == "variants_invalid"
