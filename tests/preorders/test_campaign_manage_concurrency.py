"""Real threads against PostgreSQL: closing early or cancelling while fans are still pledging settles every
pledge exactly once, and the ledger stays balanced."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from core.errors import DomainError
from payments.ledger import unbalanced_transactions
from payments.models import LedgerTransaction
from preorders.models import Campaign, Pledge
from preorders.services import pledge_place
from preorders.services.campaign_manage import campaign_cancel, campaign_close_now
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign, shop_product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def _in_thread(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DomainError as exc:
        return exc
    finally:
        connection.close()


def _race(shop, campaign, variant, action):
    fans = [FanFactory(shop=shop) for _ in range(10)]

    def job(i):
        if i == 5:
            return _in_thread(action, user=shop.owner, campaign_id=campaign.pk)
        return _in_thread(
            pledge_place, user=fans[i].user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(job, range(10)))


@pytest.mark.parametrize("action", ["close", "cancel"])
def test_close_or_cancel_while_fans_pledge(require_services, shop, provider, action):
    product, variant, _ = shop_product(shop)
    campaign = make_campaign(shop.owner, product, target_quantity=2, cap=50, per_fan_limit=5, tiers=[])
    for fan in (FanFactory(shop=shop), FanFactory(shop=shop)):
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant.pk, quantity=1)
    results = _race(shop, campaign, variant, campaign_close_now if action == "close" else campaign_cancel)
    refused = [r for r in results if isinstance(r, DomainError)]
    assert {e.code for e in refused} <= {"campaign_closed"}  # late pledges only, never the owner's action
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.closed_at is not None, (
        action,
        campaign.status,
        results,
        list(Pledge.objects.filter(campaign=campaign).values_list("status", "created_at")),
    )
    statuses = list(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True))
    expected = "confirmed" if action == "close" else "refunded"
    assert campaign.status == ("succeeded" if action == "close" else "failed")
    assert set(statuses) == {expected} and len(statuses) == 2 + 9 - len(refused)
    assert campaign.committed_quantity == len(statuses)
    if action == "cancel":
        refunds = LedgerTransaction.objects.filter(campaign_id=campaign.pk, kind="refund").count()
        assert refunds == len(statuses)  # each pledge refunded exactly once
    assert unbalanced_transactions() == []
