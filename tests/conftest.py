import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.db import is_postgresql
from shops.models import ShopRole
from tests.factories import FanFactory, ShopFactory, ShopMemberFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("FANSI_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parent.parent


def git(*args: str) -> subprocess.CompletedProcess:
    """git in this checkout. The project is always a git checkout (README, CI's clone): these tests read its
    ignore rules and status, so outside one they fail rather than pass unchecked."""
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True)
    assert inside.returncode == 0, "run this test in a git checkout of the project"
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)


def services_available() -> tuple[bool, str]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        return False, "DATABASE_URL does not point at PostgreSQL"
    if not settings.REDIS_URL:
        return False, "REDIS_URL is not set"
    return True, ""


@pytest.fixture
def require_services() -> None:
    """Tests that need real PostgreSQL and Redis: they skip locally, and fail in CI."""
    ok, why = services_available()
    if not ok:
        if REQUIRE_SERVICES:
            pytest.fail(f"FANSI_REQUIRE_SERVICES=1 but {why}")
        pytest.skip(why)


@pytest.fixture(autouse=True)
def _isolated_cache():
    from django.core.cache import cache

    from fans.bot.services import facts

    cache.clear()
    facts._local.clear()
    yield


@pytest.fixture
def no_quiet_hours(shop):
    """Cards sent unprompted wait out the shop's quiet hours (22:00-08:00); tests about cards must not
    depend on the hour they run at."""
    import datetime as dt

    from fans.bot.models import BotSettings

    return BotSettings.objects.update_or_create(
        shop=shop, defaults={"quiet_start": dt.time(0, 0), "quiet_end": dt.time(0, 0)}
    )[0]


@pytest.fixture
def shop(db):
    return ShopFactory(name="美妆小铺", slug="beauty-shop")


@pytest.fixture
def owner(shop):
    return shop.owner


@pytest.fixture
def staff(shop):
    return ShopMemberFactory(shop=shop, role=ShopRole.ASSISTANT).user


@pytest.fixture
def other_shop(db):
    return ShopFactory(name="别家店", slug="other-shop")


@pytest.fixture
def fan(shop):
    return FanFactory(shop=shop, display_name="小红")


@pytest.fixture
def fan_user(fan):
    return fan.user


@pytest.fixture
def conversation(fan):
    return fan.conversation


@pytest.fixture
def stranger(db):
    return UserFactory(username="stranger")


def api_client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_for():
    return api_client_for


@pytest.fixture(scope="session", autouse=True)
def _close_worker_connections(django_db_setup, django_db_blocker):
    """Consumers run ORM work on pool threads whose idle connections would block dropping the test DB."""
    yield
    from django.db import connection

    if not is_postgresql(connection):
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _starter_data(request):
    """Transactional tests flush the tables, data migrations included; put the shipped vocabulary back."""
    if "transactional_db" not in request.fixturenames and "live_server" not in request.fixturenames:
        marker = request.node.get_closest_marker("django_db")
        if not (marker and marker.kwargs.get("transaction")):
            yield
            return
    request.getfixturevalue("transactional_db")
    starter_data_ensure()
    yield


def starter_data_ensure() -> None:
    import importlib

    from fans.bot.models import PhraseRule
    from fans.crm.models import TagGroup

    current = _CurrentModels()
    if not TagGroup.objects.filter(shop__isnull=True).exists():
        importlib.import_module("fans.migrations.0003_starter_vocabulary").load(current, None)
    if not TagGroup.objects.filter(shop__isnull=True, code="lifecycle").exists():
        importlib.import_module("fans.crm.migrations.0003_lifecycle").lifecycle_load(current, None)
    if not PhraseRule.objects.filter(shop__isnull=True).exists():
        importlib.import_module("fans.migrations.0006_starter_phrases").load(current, None)


class _CurrentModels:
    """The data migrations' `apps`, answering with today's models (they moved out of the `fans` label)."""

    def get_model(self, app_label: str, name: str):
        from django.apps import apps

        for label in ("chat", "crm", "bot"):
            try:
                return apps.get_model(label, name)
            except LookupError:
                continue
        raise LookupError(name)
