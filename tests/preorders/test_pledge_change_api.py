"""A fan changes or cancels a pledge through the API: quotes first, then the change, the money loop balanced."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.ledger import pledge_cash, unbalanced_transactions
from payments.models import Account, LedgerLeg
from preorders.models import Campaign, Pledge
from preorders.services.changes import CHANGE_STALE
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign, shop_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(owner, product):
    # 500 a unit, a 10% deposit: 50 a unit; at most 5 each, cap 20.
    return make_campaign(owner, product[0])


@pytest.fixture
def pledge(api_for, fan_user, campaign, product):
    placed = api_for(fan_user).post(
        f"/api/campaigns/{campaign.pk}/pledges/", {"variant": product[1].pk, "quantity": 2}, format="json"
    )
    assert placed.status_code == 201, placed.json()
    return placed.json()


def state(pledge_id: int) -> tuple:
    p = Pledge.objects.select_related("campaign").get(pk=pledge_id)
    return (p.quantity, p.variant_id, p.deposit_amount, p.status, p.campaign.committed_quantity)


def money_loop_balanced(provider) -> bool:
    """Every ledger transaction balances, and the provider holds what the ledger says it does."""
    ledger_cash = sum(
        (leg.amount for leg in LedgerLeg.objects.filter(account=Account.PROVIDER)), Decimal("0")
    )
    return unbalanced_transactions() == [] and provider.net_charged() == ledger_cash


def test_patch_changes_quantity_and_variant_and_charges_the_difference(
    api_for, fan_user, pledge, product, provider
):
    client = api_for(fan_user)
    response = client.patch(
        f"/api/pledges/{pledge['id']}/", {"quantity": 4, "variant": product[2].pk}, format="json"
    )
    assert response.status_code == 200, response.json()
    out = response.json()
    assert (out["quantity"], out["variant"], out["variant_name"]) == (4, product[2].pk, "M")
    assert out["deposit_amount"] == "200.00" and out["difference"] == "100.00"
    assert state(pledge["id"]) == (4, product[2].pk, Decimal("200.00"), "active", 4)
    assert pledge_cash(pledge["id"]) == Decimal("200.00")
    assert Pledge.objects.get(pk=pledge["id"]).change_started_at is None
    assert money_loop_balanced(provider)


def test_patch_down_refunds_the_difference(api_for, fan_user, pledge, provider):
    response = api_for(fan_user).patch(f"/api/pledges/{pledge['id']}/", {"quantity": 1}, format="json")
    assert response.status_code == 200 and response.json()["difference"] == "-50.00"
    assert state(pledge["id"])[0::2] == (1, Decimal("50.00"), 1)
    assert pledge_cash(pledge["id"]) == Decimal("50.00")
    assert money_loop_balanced(provider)


def test_a_retried_patch_charges_once(api_for, fan_user, pledge, provider):
    client = api_for(fan_user)
    first = client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 3}, format="json")
    again = client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 3}, format="json")
    assert first.status_code == again.status_code == 200
    assert first.json()["difference"] == "50.00" and again.json()["difference"] == "0.00"
    assert pledge_cash(pledge["id"]) == Decimal("150.00")
    assert state(pledge["id"])[-1] == 3
    assert money_loop_balanced(provider)


def _other_variant(shop):
    return shop_product(shop)[1].pk


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"quantity": 0}, 400, "quantity_invalid"),
        ({"quantity": -1}, 400, "quantity_invalid"),
        ({"quantity": "two"}, 400, "quantity_invalid"),
        ({"quantity": 1.5}, 400, "quantity_invalid"),
        ({"quantity": 6}, 409, "per_fan_limit"),
        ({"variant": "other"}, 400, "variant_invalid"),
        ({"variant": "x"}, 400, "variant_invalid"),
        ({}, 400, "invalid"),
    ],
)
def test_patch_bad_input_is_coded_and_changes_nothing(
    api_for, fan_user, pledge, shop, provider, payload, status, code
):
    if payload.get("variant") == "other":
        payload = {"variant": _other_variant(shop)}
    before = state(pledge["id"])
    response = api_for(fan_user).patch(f"/api/pledges/{pledge['id']}/", payload, format="json")
    assert response.status_code == status and response.json()["code"] == code and response.json()["message"]
    assert state(pledge["id"]) == before
    assert pledge_cash(pledge["id"]) == Decimal("100.00") and money_loop_balanced(provider)


def test_patch_over_the_limit_counts_the_fans_other_pledges(api_for, fan_user, campaign, pledge, product):
    client = api_for(fan_user)
    assert (
        client.post(
            f"/api/campaigns/{campaign.pk}/pledges/", {"variant": product[2].pk, "quantity": 2}, format="json"
        ).status_code
        == 201
    )
    response = client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 4}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "per_fan_limit"
    assert state(pledge["id"])[0] == 2
    quote = client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 3})
    assert quote.status_code == 200 and quote.json()["max_quantity"] == 3


def test_patch_over_the_cap_is_sold_out(api_for, fan_user, shop, campaign, pledge, product):
    for _ in range(3):  # 2 + 3 × 5 = 17 of 20
        other = api_for(FanFactory(shop=shop).user).post(
            f"/api/campaigns/{campaign.pk}/pledges/", {"variant": product[1].pk, "quantity": 5}, format="json"
        )
        assert other.status_code == 201
    client = api_for(fan_user)
    quote = client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 5})
    response = client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 6}, format="json")
    assert quote.status_code == 200 and quote.json()["max_quantity"] == 5
    assert response.status_code == 409 and response.json()["code"] == "per_fan_limit"
    Campaign.objects.filter(pk=campaign.pk).update(cap=18)
    response = client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 4}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "sold_out"
    quote = client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 4})
    assert quote.status_code == 409 and quote.json()["code"] == "sold_out"
    assert state(pledge["id"])[0::4] == (2, 17)


def test_patch_after_the_deadline_is_409_and_changes_nothing(api_for, fan_user, campaign, pledge, provider):
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    before = state(pledge["id"])
    client = api_for(fan_user)
    for payload in ({"quantity": 3}, {"quantity": 1}):
        response = client.patch(f"/api/pledges/{pledge['id']}/", payload, format="json")
        assert response.status_code == 409 and response.json()["code"] == "campaign_closed"
    quote = client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 3})
    assert quote.status_code == 409 and quote.json()["code"] == "campaign_closed"
    assert state(pledge["id"]) == before and money_loop_balanced(provider)


def test_someone_elses_pledge_is_404(api_for, shop, stranger, pledge):
    before = state(pledge["id"])
    for user in (FanFactory(shop=shop).user, stranger):
        client = api_for(user)
        assert (
            client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 1}, format="json").status_code == 404
        )
        assert client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 1}).status_code == 404
        assert client.get(f"/api/pledges/{pledge['id']}/cancel-quote/").status_code == 404
        assert client.post(f"/api/pledges/{pledge['id']}/cancel/").status_code == 404
    assert state(pledge["id"]) == before


def test_logged_out_is_refused(client, pledge):
    assert client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 1}).status_code in (401, 403)
    assert client.get(f"/api/pledges/{pledge['id']}/change-quote/").status_code in (401, 403)


@pytest.mark.parametrize("failure", ["fail_next", "timeout_next"])
def test_a_failed_top_up_leaves_the_pledge_unchanged(api_for, fan_user, pledge, product, provider, failure):
    before = state(pledge["id"])
    getattr(provider, failure)()
    response = api_for(fan_user).patch(
        f"/api/pledges/{pledge['id']}/", {"quantity": 4, "variant": product[2].pk}, format="json"
    )
    assert response.status_code == 402 and response.json()["code"] == "payment_failed"
    assert state(pledge["id"]) == before
    assert Pledge.objects.get(pk=pledge["id"]).change_started_at is None
    assert pledge_cash(pledge["id"]) == Decimal("100.00") and money_loop_balanced(provider)
    # The fan can try again at once.
    again = api_for(fan_user).patch(f"/api/pledges/{pledge['id']}/", {"quantity": 4}, format="json")
    assert again.status_code == 200 and pledge_cash(pledge["id"]) == Decimal("200.00")


def test_a_change_still_being_paid_blocks_another_change_and_a_cancel(api_for, fan_user, pledge):
    Pledge.objects.filter(pk=pledge["id"]).update(change_started_at=timezone.now())
    before = state(pledge["id"])
    client = api_for(fan_user)
    changed = client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 3}, format="json")
    cancelled = client.post(f"/api/pledges/{pledge['id']}/cancel/")
    assert changed.status_code == cancelled.status_code == 409
    assert changed.json()["code"] == cancelled.json()["code"] == "change_in_progress"
    assert state(pledge["id"]) == before
    # A change whose process died no longer blocks.
    Pledge.objects.filter(pk=pledge["id"]).update(change_started_at=timezone.now() - CHANGE_STALE)
    assert client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 3}, format="json").status_code == 200


def test_change_quote_says_what_the_deposit_becomes_and_changes_nothing(api_for, fan_user, pledge, product):
    client = api_for(fan_user)
    up = client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 3, "variant": product[2].pk})
    down = client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 1})
    assert up.status_code == down.status_code == 200
    assert up.json() | {"pledge": 0} == {
        "pledge": 0,
        "quantity": 3,
        "variant": product[2].pk,
        "variant_name": "M",
        "deposit_amount": "150.00",
        "difference": "50.00",
        "max_quantity": 5,
        "currency": "CNY",
    }
    assert down.json()["difference"] == "-50.00" and down.json()["deposit_amount"] == "50.00"
    bad = client.get(f"/api/pledges/{pledge['id']}/change-quote/", {"quantity": 0})
    assert bad.status_code == 400 and bad.json()["code"] == "quantity_invalid"
    assert state(pledge["id"])[:3] == (2, product[1].pk, Decimal("100.00"))


def test_cancel_quote_matches_the_refund_and_the_answer_says_it(api_for, fan_user, pledge, provider):
    client = api_for(fan_user)
    client.patch(f"/api/pledges/{pledge['id']}/", {"quantity": 3}, format="json")
    quote = client.get(f"/api/pledges/{pledge['id']}/cancel-quote/")
    assert quote.status_code == 200 and quote.json()["refund_amount"] == "150.00"
    cancelled = client.post(f"/api/pledges/{pledge['id']}/cancel/", {"reason": "买多了"}, format="json")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["refund_amount"] == "150.00"
    assert pledge_cash(pledge["id"]) == Decimal("0.00") and money_loop_balanced(provider)
    again = client.get(f"/api/pledges/{pledge['id']}/cancel-quote/")
    assert again.status_code == 409 and again.json()["code"] == "pledge_not_active"


def test_cancelling_a_subscription_refunds_its_deposit_not_the_boxes_it_received(
    api_for, owner, fan_user, product, provider, django_capture_on_commit_callbacks
):
    from preorders.models import SubscriptionCycle
    from preorders.services import cycle_cut

    sub_campaign = make_campaign(
        owner,
        product[0],
        kind="subscription",
        cadence="weekly",
        cycles=None,
        cutoff_hours=24,
        tiers=[],
        cap=None,
    )
    client = api_for(fan_user)
    sub = client.post(
        f"/api/campaigns/{sub_campaign.pk}/pledges/", {"variant": product[1].pk, "quantity": 1}, format="json"
    ).json()
    cycle = SubscriptionCycle.objects.get(campaign=sub_campaign, number=1)
    SubscriptionCycle.objects.filter(pk=cycle.pk).update(cutoff_at=timezone.now() - dt.timedelta(seconds=1))
    Pledge.objects.filter(pk=sub["id"]).update(created_at=timezone.now() - dt.timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        cycle_cut(cycle_id=cycle.pk)
    paid = pledge_cash(sub["id"])
    assert paid == Decimal("550.00")  # the 50 deposit and the first box
    quote = client.get(f"/api/pledges/{sub['id']}/cancel-quote/").json()
    cancelled = client.post(f"/api/pledges/{sub['id']}/cancel/").json()
    assert quote["refund_amount"] == cancelled["refund_amount"] == "50.00"
    assert pledge_cash(sub["id"]) == Decimal("500.00") and money_loop_balanced(provider)
