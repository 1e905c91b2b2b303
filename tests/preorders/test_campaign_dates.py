"""Dates on campaigns are checked before anything is written: a deadline the shop's clock cannot show (or
one years away) is refused with a code, the database is left as it was, and every page keeps working."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone, translation

from core.errors import Invalid, Unprocessable
from preorders.models import Campaign, CampaignStatus, SubscriptionCycle, Tier
from preorders.services import campaign_create, campaign_launch
from tests.preorders.conftest import make_campaign
from tests.preorders.test_api import body

pytestmark = pytest.mark.django_db

FAR = "9999-12-31T23:59:59Z"


def too_far() -> str:
    return (timezone.now() + dt.timedelta(days=400)).isoformat()


def _error(response) -> dict:
    data = response.json()
    assert set(data) == {"code", "message", "detail"} and data["message"], data
    return data


@pytest.mark.parametrize("deadline", [FAR, "later"])
def test_create_with_an_out_of_range_deadline_is_400_and_stores_nothing(api_for, owner, product, deadline):
    deadline = FAR if deadline == FAR else too_far()
    response = api_for(owner).post("/api/campaigns/", body(product[0], deadline=deadline), format="json")
    assert response.status_code == 400
    assert _error(response)["code"] == "deadline_too_far"
    assert Campaign.objects.count() == 0 and Tier.objects.count() == 0


def test_create_subscription_with_an_out_of_range_first_delivery_is_400_and_stores_nothing(
    api_for, owner, product
):
    data = body(product[0], kind="subscription", cadence="weekly", cutoff_hours=24, tiers=[], cap=None)
    response = api_for(owner).post("/api/campaigns/", {**data, "deadline": FAR}, format="json")
    assert response.status_code == 400 and _error(response)["code"] == "deadline_too_far"
    assert Campaign.objects.count() == 0 and SubscriptionCycle.objects.count() == 0


def test_create_subscription_with_a_cutoff_beyond_any_date_is_400_and_stores_nothing(api_for, owner, product):
    data = body(product[0], kind="subscription", cadence="weekly", tiers=[], cap=None)
    response = api_for(owner).post("/api/campaigns/", {**data, "cutoff_hours": 10**12}, format="json")
    assert response.status_code == 400 and _error(response)["code"] == "cutoff_hours_invalid"
    assert Campaign.objects.count() == 0


def test_create_with_a_factory_lead_time_beyond_any_date_is_400_and_stores_nothing(
    api_for, owner, product, factory_product
):
    factory_product.lead_time_days = 2_000_000_000
    factory_product.save(update_fields=["lead_time_days"])
    response = api_for(owner).post("/api/campaigns/", body(product[0]), format="json")
    assert response.status_code == 400 and _error(response)["code"] == "delivery_too_far"
    assert Campaign.objects.count() == 0


def test_service_refuses_the_deadline_before_writing(owner, product):
    for deadline in (FAR, too_far(), dt.datetime.max.replace(tzinfo=dt.UTC)):
        with pytest.raises(Invalid) as err:
            campaign_create(
                user=owner,
                kind="group",
                product_id=product[0].pk,
                title="远期",
                target_quantity=10,
                deadline=deadline,
                deposit_percent="10",
            )
        assert err.value.code == "deadline_too_far"
    assert Campaign.objects.count() == 0


def test_a_deadline_just_under_a_year_ahead_is_accepted(api_for, owner, product):
    deadline = (timezone.now() + dt.timedelta(days=364)).isoformat()
    response = api_for(owner).post("/api/campaigns/", body(product[0], deadline=deadline), format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("deadline", [FAR, "later"])
def test_launch_with_an_out_of_range_deadline_is_422_and_stays_draft(api_for, owner, product, deadline):
    draft = make_campaign(owner, product[0], launch=False)
    # Drafts written before the check existed (or through other tools) may hold such a deadline.
    stored = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC) if deadline == FAR else too_far()
    Campaign.objects.filter(pk=draft.pk).update(deadline=stored, balance_deadline=None, ship_by=None)
    response = api_for(owner).post(f"/api/campaigns/{draft.pk}/launch/")
    assert response.status_code == 422
    assert _error(response)["code"] == "deadline_too_far"
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT and draft.launched_at is None


def test_launch_service_refuses_a_subscription_with_an_out_of_range_deadline(owner, product):
    draft = make_campaign(
        owner,
        product[0],
        launch=False,
        kind="subscription",
        cadence="weekly",
        cutoff_hours=24,
        tiers=[],
        cap=None,
    )
    Campaign.objects.filter(pk=draft.pk).update(
        deadline=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), balance_deadline=None, ship_by=None
    )
    with pytest.raises(Unprocessable) as err:
        campaign_launch(user=owner, campaign_id=draft.pk)
    assert err.value.code == "deadline_too_far"
    assert Campaign.objects.get(pk=draft.pk).status == CampaignStatus.DRAFT
    assert SubscriptionCycle.objects.count() == 0


def test_after_refused_writes_every_reader_still_works(api_for, owner, fan_user, product):
    live = make_campaign(owner, product[0])
    refused = api_for(owner).post("/api/campaigns/", body(product[0], deadline=FAR), format="json")
    assert refused.status_code == 400
    draft = make_campaign(owner, product[0], launch=False, title="草稿")
    assert api_for(owner).post(f"/api/campaigns/{draft.pk}/launch/").status_code == 200
    listed = api_for(fan_user).get("/api/campaigns/")
    assert listed.status_code == 200 and sorted(c["id"] for c in listed.json()) == sorted([live.pk, draft.pk])
    assert api_for(owner).get("/api/campaigns/").status_code == 200
    page = Client()
    page.force_login(owner)
    assert page.get(f"/campaigns/?shop={live.shop_id}").status_code == 200
    assert page.get(f"/campaigns/{live.pk}/").status_code == 200


def test_a_stored_deadline_the_shop_clock_cannot_show_does_not_break_the_api(
    api_for, owner, fan_user, product
):
    live = make_campaign(owner, product[0])
    other = make_campaign(owner, product[0], title="另一个")
    # A row stored before the check: rendering falls back to UTC instead of failing the whole list.
    Campaign.objects.filter(pk=other.pk).update(
        deadline=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), balance_deadline=None, ship_by=None
    )
    listed = api_for(fan_user).get("/api/campaigns/")
    assert listed.status_code == 200
    by_id = {c["id"]: c for c in listed.json()}
    assert set(by_id) == {live.pk, other.pk}
    assert by_id[other.pk]["deadline"] == FAR
    assert (
        by_id[live.pk]["deadline"] == api_for(fan_user).get(f"/api/campaigns/{live.pk}/").json()["deadline"]
    )
    assert timezone.localtime(live.deadline).isoformat() == by_id[live.pk]["deadline"]


def test_a_stored_deadline_the_shop_clock_cannot_show_does_not_break_the_pages(
    client, owner, fan_user, product
):
    from preorders.services import pledge_place

    bad = make_campaign(owner, product[0], title="旧数据")
    pledge_place(user=fan_user, campaign_id=bad.pk, variant_id=product[1].pk, quantity=1)
    Campaign.objects.filter(pk=bad.pk).update(
        deadline=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), balance_deadline=None, ship_by=None
    )
    client.force_login(owner)
    listed = client.get(f"/campaigns/?shop={bad.shop_id}")
    assert listed.status_code == 200 and "9999-12-31 23:59 UTC" in listed.content.decode()
    assert client.get(f"/campaigns/{bad.pk}/").status_code == 200
    client.force_login(fan_user)
    mine = client.get("/me/pledges/")
    assert mine.status_code == 200 and "9999-12-31 23:59 UTC" in mine.content.decode()
    assert client.get(f"/c/{bad.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"deadline": "2030-02-30T00:00:00Z"}, "deadline_invalid"),
        ({"target_quantity": 2**31}, "target_quantity_invalid"),
        ({"cap": 2**40}, "cap_invalid"),
        ({"per_fan_limit": 2**31}, "per_fan_limit_invalid"),
        ({"product": 2**70}, "product_invalid"),
        ({"tiers": [{"min_quantity": 2**31, "unit_price": "400.00"}]}, "min_quantity_invalid"),
    ],
)
def test_create_with_a_value_the_row_cannot_hold_is_400_and_stores_nothing(
    api_for, owner, product, change, code
):
    response = api_for(owner).post("/api/campaigns/", {**body(product[0]), **change}, format="json")
    assert response.status_code == 400 and _error(response)["code"] == code
    assert Campaign.objects.count() == 0 and Tier.objects.count() == 0


def _admin_change(client, campaign, **changes):
    data = {
        "shop": campaign.shop_id,
        "product": campaign.product_id,
        "factory_product": campaign.factory_product_id or "",
        "kind": campaign.kind,
        "title": campaign.title,
        "status": campaign.status,
        "target_quantity": campaign.target_quantity,
        "cap": campaign.cap or "",
        "deadline_0": timezone.localtime(campaign.deadline).strftime("%Y-%m-%d"),
        "deadline_1": timezone.localtime(campaign.deadline).strftime("%H:%M:%S"),
        "deposit_percent": campaign.deposit_percent,
        "per_fan_limit": campaign.per_fan_limit or "",
        "base_unit_price": campaign.base_unit_price,
        "currency": campaign.currency,
        "cadence": campaign.cadence,
        "cycles": campaign.cycles or "",
        "cutoff_hours": campaign.cutoff_hours,
        "created_by": campaign.created_by_id or "",
        "lapse_rule": campaign.lapse_rule,
        "late_compensation_percent": campaign.late_compensation_percent,
        "balance_deadline_0": timezone.localtime(campaign.balance_deadline).strftime("%Y-%m-%d")
        if campaign.balance_deadline
        else "",
        "balance_deadline_1": timezone.localtime(campaign.balance_deadline).strftime("%H:%M:%S")
        if campaign.balance_deadline
        else "",
        "ship_by_0": timezone.localtime(campaign.ship_by).strftime("%Y-%m-%d") if campaign.ship_by else "",
        "ship_by_1": timezone.localtime(campaign.ship_by).strftime("%H:%M:%S") if campaign.ship_by else "",
        "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
        **changes,
    }
    return client.post(f"/admin/preorders/campaign/{campaign.pk}/change/", data)


def test_admin_refuses_an_out_of_range_deadline_on_a_draft_and_saves_nothing(owner, product):
    from tests.factories import UserFactory

    draft = make_campaign(owner, product[0], launch=False, tiers=[])
    before = Campaign.objects.filter(pk=draft.pk).values().get()
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    refused = _admin_change(client, draft, deadline_0="9999-12-31", deadline_1="23:59:59", title="改")
    with translation.override("zh-hans"):
        shown = translation.gettext("The deadline is more than a year away.")
    assert shown != "The deadline is more than a year away."  # the admin speaks the default language
    assert refused.status_code == 200 and shown in refused.content.decode()
    assert Campaign.objects.filter(pk=draft.pk).values().get() == before
    # The same form with a deadline in range saves, so the refusal above was the deadline's.
    later = timezone.localtime(timezone.now() + dt.timedelta(days=30))
    saved = _admin_change(
        client,
        draft,
        deadline_0=later.strftime("%Y-%m-%d"),
        deadline_1=later.strftime("%H:%M:%S"),
        # The balance is due, and the parcels ship, after the new deadline (database constraints).
        balance_deadline_0=(later + dt.timedelta(days=2)).strftime("%Y-%m-%d"),
        balance_deadline_1=later.strftime("%H:%M:%S"),
        ship_by_0=(later + dt.timedelta(days=40)).strftime("%Y-%m-%d"),
        ship_by_1=later.strftime("%H:%M:%S"),
        title="改",
    )
    assert saved.status_code == 302
    assert Campaign.objects.get(pk=draft.pk).title == "改"
