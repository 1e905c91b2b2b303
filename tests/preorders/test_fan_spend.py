"""消费 (Fan.total_spend) is the net cash paid, from the ledger: a deposit, a balance and a refund each move
it, through the real API; the beat sweep repairs a wrong value; the CRM fan profile lists the pledges."""

from decimal import Decimal

import pytest

from fans.chat.models import Fan
from preorders.models import Pledge
from preorders.services.spend import fans_spend_refresh, fans_spend_sweep
from tests.factories import FanFactory
from tests.preorders.conftest import expire, make_campaign, shop_product

pytestmark = pytest.mark.django_db


def _spend(fan) -> Decimal:
    return Fan.objects.get(pk=fan.pk).total_spend


def _pledge(api_for, fan, campaign, variant, quantity, capture):
    with capture(execute=True):
        answer = api_for(fan.user).post(
            f"/api/campaigns/{campaign.pk}/pledges/",
            {"variant": variant.pk, "quantity": quantity},
            format="json",
        )
    assert answer.status_code == 201, answer.json()
    return Pledge.objects.get(pk=answer.json()["id"])


def test_deposit_balance_and_refund_each_move_spend(
    shop, factory_product, api_for, client, django_capture_on_commit_callbacks
):
    from preorders.services import campaign_close

    product, v_l, _v_m = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, per_fan_limit=None, cap=None)
    payer, canceller, other = (FanFactory(shop=shop) for _ in range(3))
    capture = django_capture_on_commit_callbacks
    paid = _pledge(api_for, payer, campaign, v_l, 6, capture)
    # The deposit (10% of 500 x 6) is spent the moment it is recorded.
    assert paid.deposit_amount == Decimal("300.00") and _spend(payer) == Decimal("300.00")
    gone = _pledge(api_for, canceller, campaign, v_l, 2, capture)
    _pledge(api_for, other, campaign, v_l, 4, capture)
    assert _spend(canceller) == Decimal("100.00")
    # A refund on cancel takes it back out.
    with capture(execute=True):
        out = api_for(canceller.user).post(
            f"/api/pledges/{gone.pk}/cancel/", {"reason": "不要了"}, format="json"
        )
    assert out.status_code == 200, out.json()
    assert _spend(canceller) == Decimal("0.00")

    expire(campaign)
    with capture(execute=True):
        assert campaign_close(campaign_id=campaign.pk) == "succeeded"
    paid.refresh_from_db()
    # Confirmed is not paid: the balance due is not spend yet.
    assert paid.status == "confirmed" and _spend(payer) == Decimal("300.00")
    with capture(execute=True):
        answer = api_for(payer.user).post(f"/api/pledges/{paid.pk}/pay-balance/", HTTP_IDEMPOTENCY_KEY="k1")
    assert answer.status_code in (200, 201), answer.json()
    paid.refresh_from_db()
    assert paid.status == "paid"
    assert _spend(payer) == Decimal("300.00") + paid.balance_due == paid.final_unit_price * 6
    # Each fan's spend is their own.
    assert _spend(other) == Decimal("200.00")

    # The CRM profile lists the pledge with its status in words and what was paid, from the ledger.
    detail = api_for(shop.owner).get(f"/api/fans/{payer.pk}/")
    assert detail.status_code == 200
    (row,) = detail.json()["pledges"]
    assert row["campaign_title"] == campaign.title and row["quantity"] == 6 and row["variant"] == "L"
    assert (
        row["status"] == "paid" and row["status_label"] == "已付清" and Decimal(row["paid"]) == _spend(payer)
    )
    assert row["campaign_url"] == f"/campaigns/{campaign.pk}/"
    client.force_login(shop.owner)
    page = client.get(f"/fans/{payer.pk}/?shop={shop.pk}")
    html = page.content.decode()
    assert page.status_code == 200 and campaign.title in html and f'data-pledge="{paid.pk}"' in html
    # The profile is for the shop's staff only.
    assert api_for(payer.user).get(f"/api/fans/{payer.pk}/").status_code in (403, 404)


def test_the_sweep_and_refresh_recompute_from_the_ledger(
    shop, factory_product, api_for, django_capture_on_commit_callbacks
):
    product, v_l, _v_m = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, per_fan_limit=None, cap=None)
    fan, idle = FanFactory(shop=shop), FanFactory(shop=shop)
    _pledge(api_for, fan, campaign, v_l, 2, django_capture_on_commit_callbacks)
    Fan.objects.filter(pk__in=[fan.pk, idle.pk]).update(total_spend=Decimal("999.00"))
    assert fans_spend_refresh(fan_ids=[fan.pk]) == 1
    assert _spend(fan) == Decimal("100.00") and _spend(idle) == Decimal("999.00")
    assert fans_spend_sweep(chunk=1) == 1  # only the wrong row changes
    assert _spend(idle) == Decimal("0.00") and _spend(fan) == Decimal("100.00")
    assert fans_spend_sweep() == 0
