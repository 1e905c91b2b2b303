"""The settlement tests' shared setup: a jacket at a unit cost where cents matter, the worked example up
to its factory order, and the HTTP steps the tests take (tests/preorders/test_settlement*.py)."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from preorders.models import (
    Campaign,
    FactoryOrder,
    Pledge,
    PledgeStatus,
)
from preorders.services import campaign_close
from preorders.services.balance import balance_lapse_run, balance_pay
from shops.models import Factory, FactoryProduct, FactoryVariant
from tests.factories import FanFactory, UserFactory
from tests.preorders.conftest import expire, make_campaign, shop_product

# What `import *` brings into a test module: its fixtures (pytest finds them by name).
__all__ = ["jacket", "page_as", "admin_user", "worked"]


D = Decimal


@pytest.fixture
def jacket(db):
    """Unit cost 123.45 (cents matter); no per-variant MOQ, so lapses never leave a shortfall."""
    factory = Factory.objects.create(name="精工羽绒厂")
    fp = FactoryProduct.objects.create(
        factory=factory, name="轻暖羽绒服", moq=5, lead_time_days=30, unit_cost=D("123.45")
    )
    FactoryVariant.objects.create(factory_product=fp, name="M 黑", sku="F-DOWN-M", moq=0)
    FactoryVariant.objects.create(factory_product=fp, name="L 黑", sku="F-DOWN-L", moq=0)
    return fp


@pytest.fixture
def page_as(client):
    """GET a page as `user` with a session (the pages are Django views, not token-authenticated API)."""

    def get(user, url):
        client.force_login(user)
        return client.get(url)

    return get


@pytest.fixture
def admin_user(db):
    return UserFactory(username="platform-admin", is_staff=True, is_superuser=True)


def pledge_http(api_for, user, campaign, variant, quantity) -> Pledge:
    response = api_for(user).post(
        f"/api/campaigns/{campaign.pk}/pledges/",
        {"variant": variant.pk, "quantity": quantity},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.json()
    return Pledge.objects.get(pk=response.json()["id"])


def settlement(api_for, user, campaign) -> dict:
    response = api_for(user).get(f"/api/campaigns/{campaign.pk}/settlement/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["balanced"] is True, body
    return body


def pay_balance(django_capture_on_commit_callbacks, pledge: Pledge) -> None:
    # The simulated provider answers "pending"; its signed notification (after commit) settles the charge.
    with django_capture_on_commit_callbacks(execute=True):
        balance_pay(user=pledge.user, pledge_id=pledge.pk, idempotency_key=None)
    pledge.refresh_from_db()
    assert pledge.status == PledgeStatus.PAID


def balance_deadline_passes(campaign: Campaign) -> None:
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        deadline=now - dt.timedelta(seconds=2), balance_deadline=now - dt.timedelta(seconds=1)
    )


def lapse(django_capture_on_commit_callbacks, campaign: Campaign) -> None:
    balance_deadline_passes(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        assert balance_lapse_run(campaign_id=campaign.pk) is True


def send_http(api_for, admin_user, order: FactoryOrder):
    return api_for(admin_user).post(
        f"/api/factory-orders/{order.pk}/transition/", {"status": "sent"}, format="json"
    )


@pytest.fixture
def worked(shop, jacket, api_for, admin_user, django_capture_on_commit_callbacks):
    """The worked example, up to the factory order (not sent yet).

    Base price 500.00, from 10 units 450.25; deposit 10%. A 4 L, B 3 L, C 3 M at 500 (deposits 200, 150,
    150), D 2 M at 450.25 (90.05), E 1 M at 450.25 (45.03), who cancels: refund 45.03. Final price 450.25:
    balances A 1601.00, B 1200.75, D 810.45 paid; C's 1200.75 unpaid, so C's 150 is forfeited. Tier
    credits A 199.00, B 149.25, C 149.25.
    """
    product, v_l, v_m = shop_product(shop, jacket)
    campaign = make_campaign(
        shop.owner,
        product,
        cap=None,
        per_fan_limit=None,
        tiers=[{"min_quantity": 10, "unit_price": "450.25"}],
    )
    fans = {name: FanFactory(shop=shop, display_name=f"粉丝{name}") for name in "ABCDE"}
    steps = {}
    pledges = {}
    for name, variant, quantity in (
        ("A", v_l, 4),
        ("B", v_l, 3),
        ("C", v_m, 3),
        ("D", v_m, 2),
        ("E", v_m, 1),
    ):
        pledges[name] = pledge_http(api_for, fans[name].user, campaign, variant, quantity)
    assert [pledges[n].deposit_amount for n in "ABCDE"] == [
        D("200.00"),
        D("150.00"),
        D("150.00"),
        D("90.05"),
        D("45.03"),
    ]
    steps["deposits"] = settlement(api_for, shop.owner, campaign)
    cancel = api_for(fans["E"].user).post(
        f"/api/pledges/{pledges['E'].pk}/cancel/", {"reason": "买多了"}, format="json"
    )
    assert cancel.status_code == 200, cancel.json()
    steps["cancel"] = settlement(api_for, shop.owner, campaign)
    expire(campaign)
    assert campaign_close(campaign_id=campaign.pk) == "succeeded"
    steps["close"] = settlement(api_for, shop.owner, campaign)
    for name in "ABD":
        pay_balance(django_capture_on_commit_callbacks, pledges[name])
    steps["balances"] = settlement(api_for, shop.owner, campaign)
    lapse(django_capture_on_commit_callbacks, campaign)
    steps["lapse"] = settlement(api_for, shop.owner, campaign)
    campaign.refresh_from_db()
    for p in pledges.values():
        p.refresh_from_db()
    order = FactoryOrder.objects.get(sources__campaign=campaign)
    return {"campaign": campaign, "pledges": pledges, "fans": fans, "steps": steps, "order": order}
