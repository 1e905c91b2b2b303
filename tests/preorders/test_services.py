import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from core.errors import Conflict, Forbidden, Invalid
from fans.chat.models import Fan
from preorders.models import Campaign, IdempotencyKey, LedgerEntry, Pledge, Tier
from preorders.services import (
    PaymentFailed,
    campaign_card_build,
    campaign_close,
    campaign_launch,
    pledge_cancel,
    pledge_change,
    pledge_place,
)
from tests.factories import ShopMemberFactory
from tests.preorders.conftest import expire, make_campaign, shop_product

pytestmark = pytest.mark.django_db


def future(days=3):
    return (timezone.now() + dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"deadline": (timezone.now() - dt.timedelta(hours=1)).isoformat()}, "deadline_past"),
        (
            {"tiers": [{"min_quantity": 15, "unit_price": "400"}, {"min_quantity": 10, "unit_price": "300"}]},
            "tiers_not_increasing",
        ),
        (
            {"tiers": [{"min_quantity": 10, "unit_price": "300"}, {"min_quantity": 10, "unit_price": "200"}]},
            "tiers_not_increasing",
        ),
        (
            {"tiers": [{"min_quantity": 10, "unit_price": "300"}, {"min_quantity": 20, "unit_price": "400"}]},
            "tiers_not_increasing",
        ),
        ({"deposit_percent": "101"}, "deposit_percent_invalid"),
        ({"deposit_percent": "-1"}, "deposit_percent_invalid"),
        ({"target_quantity": 5}, "below_moq"),
        ({"cap": 9}, "cap_below_target"),
        ({"kind": "raffle"}, "kind_invalid"),
        ({"kind": "subscription", "cadence": "daily"}, "cadence_invalid"),
    ],
)
def test_campaign_create_rejects_bad_input_and_stores_nothing(owner, product, overrides, code):
    with pytest.raises(Invalid) as err:
        make_campaign(owner, product[0], launch=False, **overrides)
    assert err.value.code == code
    assert Campaign.objects.count() == 0 and Tier.objects.count() == 0


def test_assistant_cannot_create_campaign(shop, product):
    assistant = ShopMemberFactory(shop=shop, role="assistant").user
    with pytest.raises(Forbidden):
        make_campaign(assistant, product[0], launch=False)


def test_launch_locks_campaign_and_cannot_relaunch(owner, product):
    campaign = make_campaign(owner, product[0])
    assert campaign.status == "live"
    with pytest.raises(Conflict) as err:
        campaign_launch(user=owner, campaign_id=campaign.pk)
    assert err.value.code == "not_draft"


def test_pledge_charges_deposit_and_counts(owner, product, fan, provider, django_capture_on_commit_callbacks):
    campaign = make_campaign(owner, product[0])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        body, created = pledge_place(
            user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2
        )
    assert created and body["status"] == "active"
    assert body["deposit_amount"] == "100.00"  # 10% of 2 x 500.00
    pledge = Pledge.objects.get(pk=body["id"])
    assert pledge.sku == product[1].sku and pledge.unit_price == Decimal("500.00")
    assert list(pledge.ledger.values_list("kind", "amount")) == [("charge", Decimal("100.00"))]
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 2
    assert Fan.objects.get(pk=fan.pk).pledge_count == 1
    assert provider.net_charged() == Decimal("100.00")
    assert len(callbacks) >= 1


@override_settings(FANSI_PROGRESS_COALESCE_S=0)
def test_progress_event_published_after_commit(
    owner, product, fan, monkeypatch, django_capture_on_commit_callbacks
):
    campaign = make_campaign(owner, product[0])
    sent = []
    monkeypatch.setattr(
        "core.events.publish_many", lambda batch: sent.extend((groups, frame) for groups, frame in batch)
    )
    with django_capture_on_commit_callbacks(execute=True):
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=3)
    progress = [f for g, f in sent if f["type"] == "campaign.progress"]
    assert progress[-1] == {
        "type": "campaign.progress",
        "campaign": campaign.pk,
        "status": "live",
        "committed_quantity": 3,
        "current_unit_price": "500.00",
    }
    assert sent[-1][0] == [f"shop.{campaign.shop_id}"]


@pytest.mark.parametrize("quantity", [0, -1, "x", 1.5])
def test_pledge_rejects_bad_quantity(owner, product, fan, quantity):
    campaign = make_campaign(owner, product[0])
    with pytest.raises(Invalid) as err:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=quantity)
    assert err.value.code == "quantity_invalid"
    assert Pledge.objects.count() == 0


def test_pledge_rejected_over_per_fan_limit_across_pledges(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    with pytest.raises(Conflict) as err:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=6)
    assert err.value.code == "per_fan_limit"
    pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=4)
    with pytest.raises(Conflict) as err:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[2].pk, quantity=2)
    assert err.value.code == "per_fan_limit"
    assert Pledge.objects.count() == 1


def test_pledge_rejects_variant_of_another_product(owner, shop, product, fan):
    campaign = make_campaign(owner, product[0])
    _other, other_variant, _ = shop_product(shop)
    with pytest.raises(Invalid) as err:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=other_variant.pk, quantity=1)
    assert err.value.code == "variant_invalid"
    assert Pledge.objects.count() == 0


def test_pledge_rejected_after_deadline(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    expire(campaign)
    with pytest.raises(Conflict) as err:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)
    assert err.value.code == "campaign_closed"


def test_pledge_rejected_on_failed_campaign(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    expire(campaign)
    assert campaign_close(campaign_id=campaign.pk) == "failed"
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() + dt.timedelta(days=1))
    with pytest.raises(Conflict) as err:
        pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)
    assert err.value.code == "campaign_closed"


def test_pledge_sold_out_at_cap(owner, product, shop):
    from tests.factories import FanFactory

    campaign = make_campaign(owner, product[0], cap=10, per_fan_limit=None)
    a, b = FanFactory(shop=shop), FanFactory(shop=shop)
    pledge_place(user=a.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=8)
    with pytest.raises(Conflict) as err:
        pledge_place(user=b.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=3)
    assert err.value.code == "sold_out"
    pledge_place(user=b.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 10


@pytest.mark.parametrize("mode", ["fail", "timeout"])
def test_payment_failure_leaves_no_half_written_pledge(owner, product, fan, provider, mode):
    campaign = make_campaign(owner, product[0])
    getattr(provider, f"{mode}_next")()
    with pytest.raises(PaymentFailed) as err:
        pledge_place(
            user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2, idempotency_key="k1"
        )
    assert err.value.code == f"payment_{mode}" if mode == "timeout" else "payment_failed"
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 0
    assert (
        Pledge.objects.count() == 0
        and LedgerEntry.objects.count() == 0
        and IdempotencyKey.objects.count() == 0
    )
    assert Fan.objects.get(pk=fan.pk).pledge_count == 0
    assert provider.net_charged() == 0  # the timed-out charge was voided
    # The same key can be retried once the provider works again.
    body, created = pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2, idempotency_key="k1"
    )
    assert created and body["status"] == "active"


def test_idempotency_same_key_same_body_returns_first_result(owner, product, fan, provider):
    campaign = make_campaign(owner, product[0])
    first, created = pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2, idempotency_key="abc"
    )
    again, created_again = pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2, idempotency_key="abc"
    )
    assert created and not created_again and again == first
    assert Pledge.objects.count() == 1 and provider.net_charged() == Decimal("100.00")


def test_idempotency_same_key_different_body_is_422(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2, idempotency_key="abc"
    )
    with pytest.raises(Exception) as err:
        pledge_place(
            user=fan.user,
            campaign_id=campaign.pk,
            variant_id=product[1].pk,
            quantity=3,
            idempotency_key="abc",
        )
    assert err.value.status == 422 and err.value.code == "idempotency_key_reused"
    assert Pledge.objects.count() == 1


def test_change_quantity_charges_or_refunds_difference(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    body, _ = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)
    changed = pledge_change(user=fan.user, pledge_id=body["id"], quantity=4, variant_id=product[2].pk)
    assert (
        changed["quantity"] == 4
        and changed["deposit_amount"] == "200.00"
        and changed["variant"] == product[2].pk
    )
    changed = pledge_change(user=fan.user, pledge_id=body["id"], quantity=1)
    assert changed["deposit_amount"] == "50.00"
    ledger = list(
        LedgerEntry.objects.filter(pledge_id=body["id"]).order_by("pk").values_list("kind", "amount")
    )
    assert ledger == [
        ("charge", Decimal("100.00")),
        ("charge", Decimal("100.00")),
        ("refund", Decimal("150.00")),
    ]
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 1
    with pytest.raises(Conflict):
        pledge_change(user=fan.user, pledge_id=body["id"], quantity=6)


def test_failed_change_charge_leaves_pledge_unchanged(owner, product, fan, provider):
    campaign = make_campaign(owner, product[0])
    body, _ = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=2)
    provider.fail_next()
    with pytest.raises(PaymentFailed):
        pledge_change(user=fan.user, pledge_id=body["id"], quantity=4)
    pledge = Pledge.objects.get(pk=body["id"])
    campaign.refresh_from_db()
    assert (
        pledge.quantity == 2
        and pledge.deposit_amount == Decimal("100.00")
        and campaign.committed_quantity == 2
    )


def test_cancel_refunds_deposit_and_releases_quantity(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    body, _ = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=3)
    out = pledge_cancel(user=fan.user, pledge_id=body["id"], reason="买错了")
    assert out["status"] == "cancelled" and out["cancel_reason"] == "买错了"
    campaign.refresh_from_db()
    assert campaign.committed_quantity == 0
    assert Fan.objects.get(pk=fan.pk).pledge_count == 0
    assert list(LedgerEntry.objects.filter(kind="refund").values_list("amount", flat=True)) == [
        Decimal("150.00")
    ]
    with pytest.raises(Conflict):
        pledge_cancel(user=fan.user, pledge_id=body["id"])


def test_cancel_rejected_after_deadline(owner, product, fan):
    campaign = make_campaign(owner, product[0])
    body, _ = pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=3)
    expire(campaign)
    with pytest.raises(Conflict):
        pledge_cancel(user=fan.user, pledge_id=body["id"])


def test_campaign_card_builder_returns_snapshot(owner, product, shop, other_shop):
    campaign = make_campaign(owner, product[0])
    card = campaign_card_build(shop, {"campaign": campaign.pk})
    assert card["campaign"] == campaign.pk and card["title"] == "羽绒服团购"
    assert card["committed_quantity"] == 0 and card["current_unit_price"] == "500.00"
    assert card["tiers"][0] == {"min_quantity": 10, "unit_price": "450.00"}
    with pytest.raises(Invalid):
        campaign_card_build(other_shop, {"campaign": campaign.pk})


def test_campaign_card_registered_with_chat_cards(owner, product, shop):
    from fans.chat.cards import card_build

    campaign = make_campaign(owner, product[0])
    card = card_build("campaign_card", shop, {"campaign": campaign.pk})
    assert card["campaign"] == campaign.pk and card["status"] == "live"


def test_fan_filter_campaign_participation(owner, product, fan, shop):
    from fans.crm.filters import fan_filter_clean, fan_queryset
    from tests.factories import FanFactory

    campaign = make_campaign(owner, product[0])
    FanFactory(shop=shop)
    pledge_place(user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1)
    flt = fan_filter_clean(shop, {"campaign": str(campaign.pk)})
    assert list(fan_queryset(shop, flt)) == [fan]


def test_progress_events_are_coalesced_to_the_newest(
    owner, product, shop, monkeypatch, django_capture_on_commit_callbacks
):
    from preorders.services.events import progress_flush
    from tests.factories import FanFactory

    campaign = make_campaign(owner, product[0], per_fan_limit=None, cap=None)
    sent = []
    monkeypatch.setattr("preorders.services.events.publish", lambda groups, frame: sent.append(frame))
    with override_settings(FANSI_PROGRESS_COALESCE_S=60):
        for q in (1, 2, 3):
            with django_capture_on_commit_callbacks(execute=True):
                pledge_place(
                    user=FanFactory(shop=shop).user,
                    campaign_id=campaign.pk,
                    variant_id=product[1].pk,
                    quantity=q,
                )
        assert sent == []
        progress_flush()
    assert [f["committed_quantity"] for f in sent] == [6]


def test_pledge_feeds_the_recommender_once(owner, product, fan):
    from recommend.models import Interaction

    campaign = make_campaign(owner, product[0])
    body, _ = pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1, idempotency_key="k-1"
    )
    pledge_place(
        user=fan.user, campaign_id=campaign.pk, variant_id=product[1].pk, quantity=1, idempotency_key="k-1"
    )
    rows = list(Interaction.objects.filter(fan=fan).values_list("product_id", "kind"))
    assert rows == [(product[0].pk, "pledge")]
