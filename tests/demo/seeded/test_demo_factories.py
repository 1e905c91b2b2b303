"""The demo's factory directory (工厂优选): filled in, and every factory has a scorecard from the seeded
history, and the clothing directory ranked by score."""

import pytest

from preorders.models import FactoryScorecard
from shops.models import Factory

pytestmark = pytest.mark.django_db


def test_demo_factories_have_directory_entries_and_scorecards(demo_output, client):
    factories = Factory.objects.all()
    assert factories.count() >= 8
    assert not factories.filter(origin="").exists()
    assert FactoryScorecard.objects.count() == factories.count()
    proven = FactoryScorecard.objects.get(factory__name="杭州轻衣制衣厂")
    assert proven.delivered_pledges >= 1 and proven.due_units >= 1
    client.login(username="owner", password="fansi-demo")
    rows = client.get("/api/factories/", {"category": "clothing"}).json()
    by_name = {row["name"]: row for row in rows}
    assert {"杭州轻衣制衣厂", "虎门潮衣工坊"} <= set(by_name)
    seeded = by_name["杭州轻衣制衣厂"]
    assert seeded["refund_rate"] == pytest.approx(proven.refund_rate) and seeded["reasons"]
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
