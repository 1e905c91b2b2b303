"""Issue 11 (3): a broadcast whose worker died is finished by the sweeper without sending any fan twice, and a
broadcast can be cancelled from any state."""

import datetime as dt

import pytest
from django.utils import timezone

from core import jobs as core_jobs
from fans.bot import services as bot
from fans.bot.models import Broadcast, PromoDelivery
from fans.bot.services import broadcasts
from fans.chat.models import Conversation, Message
from shops.models import ShopMember
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """What SIGKILL of a pool child looks like from inside: nothing after it runs, not even `except Exception`."""


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run() -> dict[str, int]:
        with django_capture_on_commit_callbacks(execute=True):
            return bot.broadcasts_sweep()

    return run


@pytest.fixture
def post(api_for, django_capture_on_commit_callbacks):
    def run(user, url):
        with django_capture_on_commit_callbacks(execute=True):
            return api_for(user).post(url)

    return run


def lease_expired(pk: int) -> None:
    Broadcast.objects.filter(pk=pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=10))


def queued_broadcast(shop, fans, monkeypatch, text="双十二预售") -> Broadcast:
    """A broadcast whose dispatch went nowhere (the test plays the worker)."""
    with monkeypatch.context() as no_worker:
        no_worker.setattr("fans.bot.tasks.broadcast_run_task.delay", lambda *a: None)
        broadcast = bot.broadcast_create(
            member=ShopMember.objects.get(shop=shop, user=shop.owner),
            kind="text",
            text=text,
            promotional=False,
            fan_ids=[f.pk for f in fans],
        )
    assert broadcast.status == "queued"
    return broadcast


def test_broadcast_whose_pool_child_died_is_finished_by_the_sweeper_sending_each_fan_once(
    shop, monkeypatch, sweep, no_quiet_hours
):
    monkeypatch.setattr(broadcasts, "BROADCAST_BATCH", 2)
    fans = [FanFactory(shop=shop) for _ in range(5)]
    broadcast = queued_broadcast(shop, fans, monkeypatch)
    real = broadcasts._broadcast_batch
    calls: list[list[int]] = []

    def killed_in_second_batch(b, ids):
        calls.append(ids)
        if len(calls) == 2:
            raise Killed
        return real(b, ids)

    monkeypatch.setattr(broadcasts, "_broadcast_batch", killed_in_second_batch)
    with pytest.raises(Killed):
        bot.broadcast_run(broadcast_id=broadcast.pk)
    monkeypatch.setattr(broadcasts, "_broadcast_batch", real)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.processed, broadcast.sent) == ("running", 2, 2)

    assert sweep() == {}  # the lease is fresh: it belongs to its worker
    lease_expired(broadcast.pk)
    assert sweep() == {"requeued": 1}
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.queued, broadcast.processed, broadcast.sent) == ("succeeded", 5, 5, 5)
    assert broadcast.finished_at is not None
    sent = Message.objects.filter(text="双十二预售")
    assert sorted(sent.values_list("conversation__fan", flat=True)) == sorted(f.pk for f in fans)
    assert PromoDelivery.objects.filter(broadcast=broadcast).count() == 5
    assert all(c.last_seq == 1 for c in Conversation.objects.filter(fan__in=fans))
    assert sweep() == {}


def test_broadcast_error_releases_it_for_a_retry_and_gives_up_after_the_attempts(shop, monkeypatch, sweep):
    fans = [FanFactory(shop=shop)]
    broadcast = queued_broadcast(shop, fans, monkeypatch)

    def broken(b, ids):
        raise RuntimeError("database went away")

    monkeypatch.setattr(broadcasts, "_broadcast_batch", broken)
    with pytest.raises(RuntimeError):
        bot.broadcast_run(broadcast_id=broadcast.pk)
    assert Broadcast.objects.get(pk=broadcast.pk).status == "queued"  # not stuck "running"
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status="running",
        attempts=core_jobs.JOB_MAX_ATTEMPTS,
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
    )
    assert sweep() == {"failed": 1}
    assert Broadcast.objects.get(pk=broadcast.pk).status == "failed"


def test_cancel_a_queued_broadcast(shop, post, monkeypatch):
    broadcast = queued_broadcast(shop, [FanFactory(shop=shop)], monkeypatch)
    response = post(shop.owner, f"/api/broadcasts/{broadcast.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    bot.broadcast_run(broadcast_id=broadcast.pk)  # a late worker leaves it alone
    assert not Message.objects.filter(text="双十二预售").exists()


def test_cancel_a_broadcast_whose_worker_died(shop, post, monkeypatch, sweep):
    broadcast = queued_broadcast(shop, [FanFactory(shop=shop)], monkeypatch)
    Broadcast.objects.filter(pk=broadcast.pk).update(status="running", attempts=1)
    lease_expired(broadcast.pk)
    response = post(shop.owner, f"/api/broadcasts/{broadcast.pk}/cancel/")
    assert response.json()["status"] == "cancelled"
    assert sweep() == {}
    assert not Message.objects.filter(text="双十二预售").exists()


def test_cancel_a_running_broadcast_stops_it_at_the_next_batch(shop, post, monkeypatch, no_quiet_hours):
    monkeypatch.setattr(broadcasts, "BROADCAST_BATCH", 2)
    fans = [FanFactory(shop=shop) for _ in range(5)]
    broadcast = queued_broadcast(shop, fans, monkeypatch)
    real = broadcasts._broadcast_batch

    def batch_then_cancel(b, ids):
        real(b, ids)
        body = post(shop.owner, f"/api/broadcasts/{broadcast.pk}/cancel/").json()
        assert body["status"] == "running" and body["cancel_requested"] is True

    monkeypatch.setattr(broadcasts, "_broadcast_batch", batch_then_cancel)
    bot.broadcast_run(broadcast_id=broadcast.pk)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.processed, broadcast.sent) == ("cancelled", 2, 2)
    assert Message.objects.filter(text="双十二预售").count() == 2


def test_cancel_needs_a_manager_and_an_unfinished_broadcast(shop, staff, post, monkeypatch, no_quiet_hours):
    broadcast = queued_broadcast(shop, [FanFactory(shop=shop)], monkeypatch)
    refused = post(staff, f"/api/broadcasts/{broadcast.pk}/cancel/")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert Broadcast.objects.get(pk=broadcast.pk).status == "queued"
    bot.broadcast_run(broadcast_id=broadcast.pk)
    finished = post(shop.owner, f"/api/broadcasts/{broadcast.pk}/cancel/")
    assert finished.status_code == 409 and finished.json()["code"] == "job_finished"
