import pytest
from django.conf import settings

from tests.conftest import api_client_for
from tests.reach.pushserver import PushServer


@pytest.fixture
def push_server():
    with PushServer(settings.FANSI_VAPID_PUBLIC_KEY) as server:
        yield server


@pytest.fixture
def subscribe(push_server):
    """Subscribe a user's device through the API, with keys the push server can decrypt for."""

    def make(user, name: str, *, path_suffix: str = "") -> int:
        device = push_server.device(name)
        response = api_client_for(user).post(
            "/api/push/subscriptions/",
            {"endpoint": push_server.url(name + path_suffix), "keys": device.keys()},
            format="json",
        )
        assert response.status_code == 201, response.content
        return response.json()["id"]

    return make
