"""The demo's reviews: the shipped campaign has delivered orders, some reviewed (Chinese text, 3-5 stars, an
owner reply) and some not; the fan sees which on /api/me/orders/, and a second run adds nothing."""

import pytest
from rest_framework.test import APIClient

from demo.data.money import SHIPPED_TITLE
from demo.data.reviews import demo_reviews_ensure
from preorders.models import Campaign, Review, ShipmentItem
from tests.demo.seeded.helpers import CJK


@pytest.fixture
def demo(demo_output):
    return demo_output


def test_demo_has_reviewed_and_unreviewed_delivered_orders(demo, api_for):
    campaign = Campaign.objects.get(shop__slug="shop1", title=SHIPPED_TITLE)
    reviews = list(Review.objects.filter(pledge__campaign=campaign))
    assert len(reviews) == 3
    assert all(3 <= r.stars <= 5 and CJK.search(r.text) for r in reviews)
    assert any(r.reply for r in reviews)
    delivered = ShipmentItem.objects.filter(pledge__campaign=campaign, shipment__status="delivered")
    unreviewed = [i.pledge for i in delivered if not Review.objects.filter(pledge=i.pledge).exists()]
    assert len(unreviewed) >= 2
    rows = {o["pledge"]: o for o in api_for(unreviewed[0].user).get("/api/me/orders/").json()}
    assert rows[unreviewed[0].pk]["reviewed"] is False
    body = APIClient().get(f"/api/reviews/?campaign={campaign.pk}").json()
    assert body["count"] == 3 and body["average"] == "4.00"
    assert demo_reviews_ensure() == 3 and Review.objects.count() == 3
