"""`manage.py demo` makes the jacket campaign's insight report worth opening on its factory's board."""

from io import StringIO

import pytest
from django.core.management import call_command

from c2m.insight.links import insight_url
from preorders.api_factory import board_token
from preorders.models import Campaign


@pytest.fixture
def demo(demo_output):
    return demo_output


def test_demo_board_shows_requests_above_the_floor_and_hides_the_rest(demo, client):
    campaign = Campaign.objects.select_related("factory_product__factory").get(
        shop__slug="shop1", title="冬季羽绒服拼团预售"
    )
    factory = campaign.factory_product.factory
    body = client.get(insight_url(factory=factory, campaign=campaign)).json()
    phrases = {r["phrase"]: r["count"] for r in body["requests"]}
    assert len(phrases) >= 2 and all(n >= 10 for n in phrases.values()), phrases
    assert any("大码" in p for p in phrases) and not any("帽子" in p or "138" in p for p in phrases)
    assert body["suppressed"] >= 2
    shown_days = [p for v in body["variants"] for p in v["series"] if p["units"]]
    assert len(body["days"]) >= 2 and len(shown_days) >= 2
    # The board opens at the campaign with the most demand: this one.
    page = client.get(f"/factory-board/{board_token(factory)}/")
    assert page.status_code == 200 and 'id="insight-chart"' in page.content.decode()
    assert f'data-insight-campaign="{campaign.pk}"' in page.content.decode()
    # A second run changes nothing in the report.
    call_command("demo", stdout=StringIO())
    assert client.get(insight_url(factory=factory, campaign=campaign)).json() == body
