"""Read scaling against a real streaming replica (core/replica.py): routed reads see the replica's data, and a
request that wrote reads its own write from the primary even while the replica's replay is paused."""

import contextvars
import time

import pytest
from django.db import connections
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from core.replica import ReplicaMiddleware, read_alias, replica_reads
from fans.chat.models import Fan
from tests.conftest import api_client_for
from tests.factories import FanFactory
from tests.ops.replica import replica_alias_add, replica_alias_remove, streaming_replica, wait_replayed

# The replica is a physical copy: pytest-django neither creates nor flushes it (TEST MIRROR "default").
pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, databases=["default", "replica"])]


@pytest.fixture(scope="module")
def replica_port(django_db_setup, django_db_blocker):
    """Module scope: set up before pytest-django's per-test database fixture, which checks the alias."""
    from tests.conftest import services_available

    if not services_available()[0]:
        yield None
        return
    started = time.monotonic()
    with django_db_blocker.unblock(), streaming_replica() as port:
        print(f"replica on {port} in {time.monotonic() - started:.1f} s")
        replica_alias_add(port)
        try:
            yield port
        finally:
            replica_alias_remove()


@pytest.fixture
def replica(replica_port, require_services):
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is True, "the replica is a standby"
    try:
        yield connections["replica"]
    finally:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")


def replay(replica, paused: bool) -> None:
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
    if paused:
        deadline = time.monotonic() + 10
        with replica.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute("SELECT pg_get_wal_replay_pause_state()")
                if cursor.fetchone()[0] == "paused":
                    return
                time.sleep(0.05)
        raise TimeoutError("replay did not pause")


def fan_ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_fan_list_reads_the_replica_once_it_caught_up(replica, shop, owner):
    client = api_client_for(owner)
    first = FanFactory(shop=shop)
    wait_replayed()
    with CaptureQueriesContext(replica) as on_replica:
        assert first.pk in fan_ids(client.get("/api/fans/"))
    assert any("fans_fan" in q["sql"] for q in on_replica.captured_queries), "the fan list read the replica"

    # Replay paused: a fan stored now is on the primary only, and the routed list does not see it yet ...
    replay(replica, paused=True)
    late = FanFactory(shop=shop)
    assert Fan.objects.filter(pk=late.pk).exists()
    assert late.pk not in fan_ids(client.get("/api/fans/"))
    # ... until the replica catches up.
    replay(replica, paused=False)
    wait_replayed()
    assert late.pk in fan_ids(client.get("/api/fans/"))


def test_a_request_that_wrote_reads_its_own_write_from_the_primary(replica, shop, owner):
    wait_replayed()
    replay(replica, paused=True)
    seen: dict[str, object] = {}

    def view(request):
        # A request that stores a fan, then reads the heavy selector in the same request.
        fan = FanFactory(shop=shop, display_name="刚写入")
        with replica_reads():
            seen["alias"] = read_alias()
            seen["found"] = Fan.objects.filter(pk=fan.pk).exists()
        seen["pk"] = fan.pk
        from django.http import HttpResponse

        return HttpResponse("ok")

    request = RequestFactory().get("/")
    contextvars.copy_context().run(ReplicaMiddleware(view), request)
    assert seen == {"alias": "default", "found": True, "pk": seen["pk"]}

    # A request that did not write reads the replica, which lags: the new fan is not there yet.
    def reader(request):
        with replica_reads():
            seen["reader_alias"] = read_alias()
            seen["reader_found"] = Fan.objects.filter(pk=seen["pk"]).exists()
        from django.http import HttpResponse

        return HttpResponse("ok")

    contextvars.copy_context().run(ReplicaMiddleware(reader), RequestFactory().get("/"))
    assert seen["reader_alias"] == "replica"
    assert seen["reader_found"] is False

    # Through the API: a request writes nothing, so it reads the (paused) replica; the primary has the fan.
    client = api_client_for(owner)
    assert seen["pk"] not in fan_ids(client.get("/api/fans/"))
    replay(replica, paused=False)
    wait_replayed()
    assert seen["pk"] in fan_ids(client.get("/api/fans/"))
