"""Issue 17: demand-board links expire (FANSI_BOARD_TOKEN_MAX_AGE_DAYS, 30 by default), rotate (the platform
issues a new link and the old one stops working) and can be revoked in the admin. A dead link gets a page that
says why (403), never the board."""

import time
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from preorders.board_link_models import BoardLink
from shops.models import Factory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def factory():
    return Factory.objects.create(name="义乌袜厂")


@pytest.fixture
def admin_user():
    return UserFactory(username="platform", is_staff=True, is_superuser=True)


def _directory_token(client, factory) -> str:
    """The link the platform's admin reads in the factory directory (the public API)."""
    rows = client.get("/api/factories/").json()
    return next(row["board_token"] for row in rows if row["id"] == factory.pk)


def test_links_expire_after_thirty_days_by_default(api_for, admin_user, factory, client):
    assert django_settings.FANSI_BOARD_TOKEN_MAX_AGE_DAYS == 30
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 31 * 86400):
        old = _directory_token(api_for(admin_user), factory)
    refused = client.get(f"/api/factory-board/{old}/")
    assert refused.status_code == 403 and refused.json()["code"] == "token_expired"
    page = client.get(f"/factory-board/{old}/")
    assert page.status_code == 403
    assert 'data-code="token_expired"' in page.content.decode()
    assert "data-board-api" not in page.content.decode()  # not the board


def test_issuing_a_new_link_invalidates_the_old_one(api_for, admin_user, factory, client):
    admin = api_for(admin_user)
    old = _directory_token(admin, factory)
    assert client.get(f"/api/factory-board/{old}/").status_code == 200
    issued = admin.post(reverse("api-factory-board-link", args=[factory.pk]))
    assert issued.status_code == 200, issued.content
    new = issued.json()["board_token"]
    assert issued.json()["board_url"].endswith(f"/factory-board/{new}/")
    assert client.get(f"/api/factory-board/{new}/").status_code == 200
    stale = client.get(f"/api/factory-board/{old}/")
    assert stale.status_code == 403 and stale.json()["code"] == "token_revoked"
    page = client.get(f"/factory-board/{old}/")
    assert page.status_code == 403 and 'data-code="token_revoked"' in page.content.decode()
    # The directory now hands out links of the new generation.
    assert client.get(f"/api/factory-board/{_directory_token(admin, factory)}/").status_code == 200


def test_only_the_platform_issues_links(api_for, owner, factory):
    response = api_for(owner).post(reverse("api-factory-board-link", args=[factory.pk]))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_admin_action_revokes_and_reissues(api_for, admin_user, factory, client):
    admin_api = api_for(admin_user)
    token = _directory_token(admin_api, factory)
    client.force_login(admin_user)
    # Adding a link for the factory in the admin issues one (the directory's link is replaced).
    add = client.post(reverse("admin:preorders_boardlink_add"), {"factory": factory.pk})
    assert add.status_code == 302, add.content[:500]
    link = BoardLink.objects.get(factory=factory)
    token = _directory_token(admin_api, factory)
    assert client.get(f"/api/factory-board/{token}/").status_code == 200
    changelist = reverse("admin:preorders_boardlink_changelist")
    revoked = client.post(changelist, {"action": "revoke", "_selected_action": [link.pk]})
    assert revoked.status_code == 302
    gone = client.get(f"/api/factory-board/{token}/")
    assert gone.status_code == 403 and gone.json()["code"] == "token_revoked"
    assert _directory_token(admin_api, factory) is None  # no link to share while revoked
    client.post(changelist, {"action": "rotate", "_selected_action": [link.pk]})
    fresh = _directory_token(admin_api, factory)
    assert fresh and client.get(f"/api/factory-board/{fresh}/").status_code == 200
    assert client.get(f"/api/factory-board/{token}/").json()["code"] == "token_revoked"
