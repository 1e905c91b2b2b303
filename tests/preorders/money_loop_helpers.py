"""The money loop tests' shared steps: a campaign closed with its fans' pledges, and paying a balance over
HTTP (tests/preorders/test_money_loop*.py)."""

from preorders.services import pledge_place
from tests.factories import FanFactory
from tests.preorders.conftest import expire, make_campaign, shop_product


def closed_campaign(shop, factory_product, quantities=(3, 3, 4), **kw):
    """A succeeded campaign (target 10) with one pledge per fan, closed: balances due."""
    from preorders.services import campaign_close

    product, v_l, _v_m = shop_product(shop, factory_product)
    campaign = make_campaign(shop.owner, product, per_fan_limit=None, cap=None, **kw)
    fans = []
    for q in quantities:
        fan = FanFactory(shop=shop)
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=q)
        fans.append(fan)
    expire(campaign)
    assert campaign_close(campaign_id=campaign.pk) == "succeeded"
    campaign.refresh_from_db()
    return campaign, fans


def pay_balance_http(api, pledge_id, key="k1", capture=None):
    return api.post(f"/api/pledges/{pledge_id}/pay-balance/", HTTP_IDEMPOTENCY_KEY=key)
