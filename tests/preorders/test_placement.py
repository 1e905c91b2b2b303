"""The pledge hot path: few statements, tier cache keyed by launch, following on first pledge, draft invisible."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.db import is_postgresql
from core.errors import Conflict, Invalid, NotFound
from fans.chat.models import Conversation, Fan
from preorders.models import Campaign, IdempotencyKey, LedgerEntry, Pledge, Tier
from preorders.selectors import campaign_tiers_cached
from preorders.services import pledge_place
from recommend.models import Interaction
from tests.factories import UserFactory
from tests.preorders.conftest import make_campaign

pytestmark = pytest.mark.django_db


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    """What the service sends, without transaction control (savepoints stand in for it inside a test)."""
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(control)]


def test_pledge_with_key_takes_few_statements(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1, idempotency_key="warm"
    )
    with CaptureQueriesContext(connection) as ctx:
        body, created = pledge_place(
            user=fan.user,
            campaign_id=campaign.pk,
            variant_id=product[1].pk,
            quantity=1,
            idempotency_key="k-2",
        )
    assert created
    # PostgreSQL: read, one message (fan lock; per-fan sum, reserve, inserts), activate, interaction.
    # SQLite: read, fan lock, per-fan sum, insert, key, reserve, activate, ledger, count, key, interaction.
    # Plus the simulated provider's own record (one statement on PostgreSQL; a real provider is an HTTP
    # call, not a statement on our connection).
    limit = 4 + 1 if is_postgresql(connection) else 11 + 4
    assert len(_statements(ctx)) <= limit, _statements(ctx)
    record = IdempotencyKey.objects.get(user=fan.user, key="k-2")
    assert record.pledge_id == body["id"] and record.response == body
    pledge = Pledge.objects.get(pk=body["id"])
    assert pledge.status == "active" and pledge.updated_at >= pledge.created_at
    assert LedgerEntry.objects.filter(pledge=pledge, kind="charge", amount=Decimal("50.00")).count() == 1
    assert Fan.objects.get(pk=fan.pk).pledge_count == 2
    assert Interaction.objects.filter(fan=fan, kind="pledge", key=f"pledge:{pledge.pk}").count() == 1


def test_replay_is_one_statement(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    first, _ = pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1, idempotency_key="r"
    )
    with CaptureQueriesContext(connection) as ctx:
        again, created = pledge_place(
            user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1, idempotency_key="r"
        )
    assert (again, created) == (first, False)
    assert len(_statements(ctx)) == 1


def test_pledge_without_limit_or_key(owner, product, fan):
    campaign = make_campaign(owner, product[0], per_fan_limit=None)
    body, created = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=7)
    assert (
        created
        and body["quantity"] == 7
        and body["unit_price"] == "500.00"
        and body["deposit_amount"] == "350.00"
    )
    assert Campaign.objects.get(pk=campaign.pk).committed_quantity == 7
    assert IdempotencyKey.objects.count() == 0


def test_price_shown_follows_reached_tier(owner, product, shop):
    from tests.factories import FanFactory

    campaign = make_campaign(owner, product[0], per_fan_limit=None, cap=None)
    pledge_place(
        user=FanFactory(shop=shop).user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=10
    )
    body, _ = pledge_place(
        user=FanFactory(shop=shop).user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1
    )
    assert body["unit_price"] == "450.00" and body["deposit_amount"] == "45.00"


def test_first_pledge_follows_the_shop(owner, product, shop):
    user = UserFactory()
    campaign = make_campaign(owner, product[0])
    body, created = pledge_place(user=user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)
    fan = Fan.objects.get(shop=shop, user=user)
    assert created and Pledge.objects.get(pk=body["id"]).fan_id == fan.pk
    assert fan.joined_via == "campaign" and fan.pledge_count == 1
    assert Conversation.objects.filter(shop=shop, fan=fan).exists()


def test_draft_and_unknown_campaigns_are_not_found(owner, product, fan):
    draft = make_campaign(owner, product[0], launch=False)
    for campaign_id in (draft.pk, draft.pk + 1000):
        with pytest.raises(NotFound):
            pledge_place(user=fan.user, campaign_id=campaign_id, variant_id=product[1].pk, quantity=1)


def test_unavailable_and_bad_variants(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    for variant_id in ("x", None, True):
        with pytest.raises(Invalid) as err:
            pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=variant_id, quantity=1)
        assert err.value.code == "variant_invalid"
    product[1].is_available = False
    product[1].save(update_fields=["is_available"])
    with pytest.raises(Conflict) as err:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)
    assert err.value.code == "variant_unavailable"
    assert Pledge.objects.count() == 0


def test_tier_cache_is_keyed_by_launch(owner, product, django_assert_num_queries):
    campaign = make_campaign(owner, product[0])
    with django_assert_num_queries(1):
        first = campaign_tiers_cached(campaign)
    with django_assert_num_queries(0):
        assert campaign_tiers_cached(campaign) is first
    assert [(t.min_quantity, t.unit_price) for t in first] == [
        (10, Decimal("450.00")),
        (15, Decimal("350.00")),
    ]
    # Same id, another launch (a reused id in a fresh test database): read again, never the old tiers.
    Tier.objects.filter(campaign=campaign).delete()
    campaign.launched_at = campaign.launched_at.replace(
        microsecond=(campaign.launched_at.microsecond + 1) % 10**6
    )
    with django_assert_num_queries(1):
        assert campaign_tiers_cached(campaign) == []


def test_tier_cache_never_holds_drafts(owner, product, django_assert_num_queries):
    draft = make_campaign(owner, product[0], launch=False)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert len(campaign_tiers_cached(draft)) == 2
