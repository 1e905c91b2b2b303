"""The pledge counter (core/metrics.py) moves once per pledge placed through the API, not on a replay."""

import pytest
from prometheus_client import REGISTRY

from tests.preorders.conftest import make_campaign


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.mark.django_db
def test_a_pledge_moves_the_pledge_counter(api_for, owner, fan, product):
    campaign = make_campaign(owner, product[0])
    before = sample("fansi_pledges_placed_total")
    response = api_for(fan.user).post(
        f"/api/campaigns/{campaign.pk}/pledges/", {"variant": product[1].pk, "quantity": 1}, format="json"
    )
    assert response.status_code == 201, response.content
    assert sample("fansi_pledges_placed_total") == before + 1
    # The same request again with its Idempotency-Key is a replay, not a second pledge.
    api = api_for(fan.user)
    for _ in range(2):
        api.post(
            f"/api/campaigns/{campaign.pk}/pledges/",
            {"variant": product[1].pk, "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="same-key",
        )
    assert sample("fansi_pledges_placed_total") == before + 2
