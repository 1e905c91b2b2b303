"""The fruit box through HTTP: cancelling with a reason, the offer that meets it, accepting or declining it."""

import pytest

from preorders.models import (
    Pledge,
    RetentionOffer,
    SubscriptionPrefs,
    SubscriptionSkip,
)
from tests.preorders.fruit_box_helpers import *  # noqa: F403  (its fixtures)

pytestmark = pytest.mark.django_db


# --- cancelling with a reason -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "offer"),
    [("too_much", "biweekly"), ("away", "skip"), ("price", "small_box"), ("other", None)],
)
def test_cancel_reason_meets_its_offer(api_for, fan_user, box, pledge, reason, offer):
    response = api_for(fan_user).post(
        f"/api/pledges/{pledge}/cancel-offer/", {"reason": reason, "note": "说明"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["offer"] == offer and body["message"]
    if offer == "small_box":
        assert "50.00" in body["message"] and "99.99" in body["message"]
    record = RetentionOffer.objects.get()
    assert (record.reason, record.offer, record.outcome, record.note) == (
        reason,
        offer or "",
        "shown",
        "说明",
    )
    assert Pledge.objects.get(pk=pledge).status == "active"


@pytest.mark.parametrize(
    ("reason", "check"),
    [
        ("too_much", lambda p: SubscriptionPrefs.objects.get(pledge_id=p).frequency == "biweekly"),
        ("away", lambda p: SubscriptionSkip.objects.filter(pledge_id=p).count() == 1),
        ("price", lambda p: SubscriptionPrefs.objects.get(pledge_id=p).box_size == "small"),
    ],
)
def test_accepting_the_offer_applies_it_and_keeps_the_subscription(
    api_for, fan_user, box, pledge, reason, check
):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": reason}, format="json")
    response = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert response.status_code == 200, response.json()
    assert response.json()["message"] and response.json()["box"]["pledge"] == pledge
    assert check(pledge)
    record = RetentionOffer.objects.get()
    assert record.outcome == "accepted" and record.decided_at is not None
    assert Pledge.objects.get(pk=pledge).status == "active"
    again = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert again.status_code == 409 and again.json()["code"] == "no_offer"


def test_an_offer_already_taken_is_not_offered_again(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/box/frequency/", {"frequency": "biweekly"}, format="json")
    client.put(f"/api/pledges/{pledge}/box/", {"box_size": "small"}, format="json")
    client.post(f"/api/pledges/{pledge}/skip/")
    for reason in ("too_much", "price", "away"):
        body = client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": reason}, format="json").json()
        assert body["offer"] is None and body["message"]
    response = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert response.status_code == 409 and response.json()["code"] == "no_offer"


def test_declining_is_the_old_cancel_and_records_the_decline(api_for, fan_user, box, pledge, provider):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "away", "note": "出国"}, format="json")
    cancelled = client.post(
        f"/api/pledges/{pledge}/cancel/", {"reason": "I'm going away: 出国"}, format="json"
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "I'm going away: 出国"
    record = RetentionOffer.objects.get()
    assert record.outcome == "declined" and record.decided_at is not None
    assert not SubscriptionSkip.objects.exists()
    body = client.get(f"/api/pledges/{pledge}/box/").json()
    assert body["status"] == "cancelled" and body["receives"] is False
    gone = client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "price"}, format="json")
    assert gone.status_code == 409 and gone.json()["code"] == "pledge_not_active"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"reason": "bored"}, "reason_invalid"),
        ({"reason": ""}, "reason_invalid"),
        ({}, "invalid"),
        ({"reason": "price", "note": "x" * 201}, "note_invalid"),
    ],
)
def test_cancel_offer_bad_input(api_for, fan_user, box, pledge, body, code):
    response = api_for(fan_user).post(f"/api/pledges/{pledge}/cancel-offer/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code
    assert not RetentionOffer.objects.exists()


def test_accepting_fails_whole_when_the_offer_no_longer_applies(api_for, fan_user, box, pledge):
    client = api_for(fan_user)
    client.post(f"/api/pledges/{pledge}/cancel-offer/", {"reason": "away"}, format="json")
    client.post(f"/api/pledges/{pledge}/pause/")
    response = client.post(f"/api/pledges/{pledge}/cancel-offer/accept/")
    assert response.status_code == 409 and response.json()["code"] == "pledge_not_active"
    assert RetentionOffer.objects.get().outcome == "shown" and not SubscriptionSkip.objects.exists()
