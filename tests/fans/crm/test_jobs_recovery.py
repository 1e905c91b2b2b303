"""Issue 11 (3 and 5): bulk jobs and imports whose worker died are resumed by the sweeper, exactly once; every
job can be cancelled from any state; a job created while the broker is down is dispatched when it is back."""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from celery import current_app
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone, translation

from core import jobs as core_jobs
from fans.chat.models import Fan
from fans.crm import services as crm
from fans.crm.models import AuditLog, BulkJob, FanTag, FanTagEvent, ImportJob
from fans.crm.services import imports, jobs, tagging
from fans.crm.vocabulary import tags_resolve
from shops.models import ShopMember
from tests import servers
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


class Killed(BaseException):
    """What SIGKILL looks like from inside the worker: nothing after it runs, not even `except Exception`."""


@pytest.fixture
def api(api_for, django_capture_on_commit_callbacks):
    """An API client whose requests run their after-commit work (Celery is eager in tests)."""

    def make(user):
        inner = api_for(user)

        class Client:
            def post(self, *args, **kwargs):
                with django_capture_on_commit_callbacks(execute=True):
                    return inner.post(*args, **kwargs)

            def get(self, *args, **kwargs):
                return inner.get(*args, **kwargs)

        return Client()

    return make


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run() -> dict[str, int]:
        with django_capture_on_commit_callbacks(execute=True):
            return crm.jobs_sweep()

    return run


def owner_member(shop) -> ShopMember:
    return ShopMember.objects.get(shop=shop, user=shop.owner)


def lease_expired(model, pk: int) -> None:
    """The worker holding the job is gone: its last heartbeat is older than the sweeper waits."""
    model.objects.filter(pk=pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=10))


def looks(shop):
    return tags_resolve(shop, ["preference:looks"])[0]


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(jobs, "BATCH", 2)
    monkeypatch.setattr(tagging, "BATCH", 2)


def queued_job(shop, fans) -> BulkJob:
    """A bulk job whose dispatch went nowhere (the test plays the worker)."""
    job = crm.bulk_job_create(
        member=owner_member(shop), action="add_tags", tags=["preference:looks"], fan_ids=[f.pk for f in fans]
    )
    assert job.status == "queued"
    return job


def test_bulk_job_killed_mid_run_is_resumed_by_the_sweeper_with_exact_counts(
    shop, monkeypatch, small_batches, sweep
):
    fans = [FanFactory(shop=shop) for _ in range(6)]
    tagging.fan_tags_bulk_add(fan_ids=[fans[3].pk], tags=[looks(shop)], source="owner", actor=None)
    job = queued_job(shop, fans)
    real_add = jobs.fan_tags_bulk_add
    calls: list[list[int]] = []

    def killed_in_second_batch(**kwargs):
        calls.append(kwargs["fan_ids"])
        if len(calls) == 2:
            raise Killed
        return real_add(**kwargs)

    monkeypatch.setattr(jobs, "fan_tags_bulk_add", killed_in_second_batch)
    with pytest.raises(Killed):
        crm.bulk_job_run(job_id=job.pk)
    monkeypatch.setattr(jobs, "fan_tags_bulk_add", real_add)
    job.refresh_from_db()
    assert (job.status, job.processed, job.changed) == ("running", 2, 2)

    # While the lease is fresh the job belongs to its worker: the sweeper leaves it, a duplicate delivery too.
    assert sweep() == {}
    crm.bulk_job_run(job_id=job.pk)
    assert BulkJob.objects.get(pk=job.pk).processed == 2

    lease_expired(BulkJob, job.pk)
    assert sweep() == {"requeued": 1}
    job.refresh_from_db()
    assert (job.status, job.total, job.processed, job.changed) == ("succeeded", 6, 6, 5)
    assert job.result == {"matched": 6, "processed": 6, "changed": 5}
    ids = [f.pk for f in fans]
    assert calls == [ids[0:2], ids[2:4]]  # the resumed run did not redo the committed first batch
    assert FanTag.objects.filter(tag=looks(shop)).count() == 6
    assert FanTagEvent.objects.filter(tag=looks(shop), action="add").count() == 6  # one per fan, ever
    assert AuditLog.objects.filter(action="bulk.add_tags").count() == 1
    assert sweep() == {}


def test_a_worker_lost_too_often_fails_the_job_instead_of_looping(shop, sweep):
    job = queued_job(shop, [FanFactory(shop=shop)])
    BulkJob.objects.filter(pk=job.pk).update(status="running", attempts=core_jobs.JOB_MAX_ATTEMPTS)
    lease_expired(BulkJob, job.pk)
    assert sweep() == {"failed": 1}
    job.refresh_from_db()
    with translation.override("zh-hans"):  # the shop's language, as the sweeper writes it
        lost = translation.gettext("The worker running this job was lost %(n)d times.") % {
            "n": core_jobs.JOB_MAX_ATTEMPTS
        }
    assert job.status == "failed" and job.finished_at is not None and job.result["error"] == lost


WORKER = """
import sys, time
import django
django.setup()
from fans.bot.services import broadcasts
from fans.crm import services as crm
from fans.crm.services import jobs, tagging
jobs.BATCH = tagging.BATCH = broadcasts.BROADCAST_BATCH = 2
def pause(job_id, processed):
    print("batch-committed", processed, flush=True)
    time.sleep(120)
jobs._after_batch = broadcasts._after_batch = pause
if sys.argv[1] == "bulk":
    crm.bulk_job_run(job_id=int(sys.argv[2]))
else:
    broadcasts.broadcast_run(broadcast_id=int(sys.argv[2]))
print("finished", flush=True)
"""


def kill_after_first_batch(kind: str, job_id: int) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, kind, str(job_id)],
        cwd=ROOT,
        env=servers.test_database_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = worker.stdout.readline()
        assert line.startswith("batch-committed"), (line, worker.stderr.read() if worker.poll() else "")
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


@pytest.mark.parametrize("kind", ["bulk", "broadcast"])
@pytest.mark.django_db(transaction=True)
def test_sigkilled_worker_job_is_finished_by_the_sweeper(
    require_services, shop, monkeypatch, kind, no_quiet_hours
):
    from fans.bot import services as bot
    from fans.bot.models import Broadcast, PromoDelivery
    from fans.bot.services import broadcasts
    from fans.chat.models import Message

    monkeypatch.setattr(jobs, "BATCH", 2)
    monkeypatch.setattr(tagging, "BATCH", 2)
    monkeypatch.setattr(broadcasts, "BROADCAST_BATCH", 2)
    fans = [FanFactory(shop=shop) for _ in range(5)]
    with monkeypatch.context() as no_worker:  # the child process below is the worker
        no_worker.setattr("fans.crm.tasks.bulk_job_run_task.delay", lambda *a: None)
        no_worker.setattr("fans.bot.tasks.broadcast_run_task.delay", lambda *a: None)
        if kind == "bulk":
            model, job, sweeper = BulkJob, queued_job(shop, fans), crm.jobs_sweep
        else:
            job = bot.broadcast_create(
                member=owner_member(shop),
                kind="text",
                text="双十二",
                promotional=False,
                fan_ids=[f.pk for f in fans],
            )
            model, sweeper = Broadcast, bot.broadcasts_sweep

    kill_after_first_batch(kind, job.pk)
    assert model.objects.get(pk=job.pk).status == "running"
    assert model.objects.get(pk=job.pk).processed == 2
    lease_expired(model, job.pk)
    assert sweeper() == {"requeued": 1}
    job.refresh_from_db()
    assert (job.status, job.processed) == ("succeeded", 5)
    if kind == "bulk":
        assert (job.total, job.changed) == (5, 5)
        assert FanTagEvent.objects.filter(action="add").count() == 5
    else:
        assert job.sent == 5
        assert Message.objects.filter(text="双十二").count() == 5
        assert PromoDelivery.objects.filter(broadcast=job).count() == 5
        assert set(Message.objects.filter(text="双十二").values_list("conversation__fan", flat=True)) == {
            f.pk for f in fans
        }
    assert sweeper() == {}


@pytest.mark.parametrize("state", ["queued_long_ago", "running_stale"])
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_dispatch_a_job_once(require_services, shop, monkeypatch, state):
    dispatched: list[int] = []
    monkeypatch.setattr("fans.crm.tasks.bulk_job_run_task.delay", lambda job_id: dispatched.append(job_id))
    job = queued_job(shop, [FanFactory(shop=shop)])
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    if state == "running_stale":
        BulkJob.objects.filter(pk=job.pk).update(status="running", attempts=1, heartbeat_at=long_ago)
    else:
        BulkJob.objects.filter(pk=job.pk).update(created_at=long_ago)
    dispatched.clear()

    # Both sweepers see the same due job before either claims it.
    barrier = threading.Barrier(2)
    real_due = core_jobs.jobs_due

    def due_then_wait(*args, **kwargs):
        due = real_due(*args, **kwargs)
        barrier.wait(timeout=10)
        return due

    monkeypatch.setattr(core_jobs, "jobs_due", due_then_wait)
    results: list[dict] = []
    errors: list[BaseException] = []

    def sweeper() -> None:
        try:
            results.append(crm.jobs_sweep())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert dispatched == [job.pk]
    assert sorted(sum(r.values()) for r in results) == [0, 1]
    assert BulkJob.objects.get(pk=job.pk).status == "queued"


def test_cancel_of_a_running_job_whose_worker_died_is_immediate(shop, api, small_batches, sweep):
    fans = [FanFactory(shop=shop) for _ in range(4)]
    job = queued_job(shop, fans)
    BulkJob.objects.filter(pk=job.pk).update(
        status="running", attempts=1, processed=2, started_at=timezone.now()
    )
    lease_expired(BulkJob, job.pk)
    response = api(shop.owner).post(f"/api/bulk-jobs/{job.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["finished_at"]
    assert sweep() == {}
    crm.bulk_job_run(job_id=job.pk)  # a late redelivery of the lost task does nothing
    assert BulkJob.objects.get(pk=job.pk).status == "cancelled"
    assert not FanTag.objects.exists()
    assert api(shop.owner).post(f"/api/bulk-jobs/{job.pk}/cancel/").json()["code"] == "job_finished"


def test_cancel_of_a_live_running_job_is_honoured_or_finalised_by_the_sweeper(shop, api, sweep):
    job = queued_job(shop, [FanFactory(shop=shop)])
    BulkJob.objects.filter(pk=job.pk).update(status="running", attempts=1, heartbeat_at=timezone.now())
    body = api(shop.owner).post(f"/api/bulk-jobs/{job.pk}/cancel/").json()
    assert body["status"] == "running" and body["cancel_requested"] is True
    # The worker then dies before its next batch: the sweeper finishes the cancel instead of resuming.
    lease_expired(BulkJob, job.pk)
    assert sweep() == {"cancelled": 1}
    assert BulkJob.objects.get(pk=job.pk).status == "cancelled"
    assert not FanTag.objects.exists()


def test_cancel_of_a_queued_job_is_immediate(shop, api):
    job = queued_job(shop, [FanFactory(shop=shop)])
    assert api(shop.owner).post(f"/api/bulk-jobs/{job.pk}/cancel/").json()["status"] == "cancelled"


def test_bulk_job_created_while_the_broker_is_down_is_dispatched_by_the_sweeper(
    shop, api, monkeypatch, sweep
):
    fan = FanFactory(shop=shop)
    with monkeypatch.context() as down:
        down.setitem(current_app.conf, "task_always_eager", False)
        down.setitem(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")
        down.setattr(current_app, "_pool", None)
        response = api(shop.owner).post(
            "/api/bulk-jobs/",
            {"action": "add_tags", "tags": ["preference:looks"], "fan_ids": [fan.pk]},
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "queued"
        job = BulkJob.objects.get(pk=response.json()["id"])
        # A sweep while the broker is still down keeps the job queued for the next one.
        BulkJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
        assert sweep() == {"redispatched": 1}
        assert BulkJob.objects.get(pk=job.pk).status == "queued"
    assert sweep() == {}  # it was dispatched a moment ago: the next try waits a minute
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=5))
    assert sweep() == {"redispatched": 1}
    job.refresh_from_db()
    assert job.status == "succeeded" and job.changed == 1
    assert FanTag.objects.filter(fan=fan, tag=looks(shop)).count() == 1


def test_beat_sweeps_jobs_and_broadcasts_at_least_every_minute(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for task in ("fans.tasks.jobs_sweep_task", "fans.tasks.broadcasts_sweep_task"):
        assert task in current_app.tasks
        assert float(schedule[task]) <= 60


# --- imports -----------------------------------------------------------------------------------------


def import_file(rows: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("fans.csv", ("fan_id,tags,notes\n" + rows).encode("utf-8"))


def test_import_killed_mid_apply_is_applied_once_by_the_sweeper(shop, monkeypatch, sweep):
    fans = [FanFactory(shop=shop) for _ in range(3)]
    member = owner_member(shop)
    job = crm.import_preview(
        member=member, upload=import_file("".join(f"{f.pk},preference:looks,备注{f.pk}\n" for f in fans))
    )
    with monkeypatch.context() as worker:
        worker.setattr("fans.crm.tasks.import_apply_task.delay", lambda *a: None)
        crm.import_confirm(member=member, job=job)

        def killed(*args, **kwargs):
            raise Killed

        worker.setattr(imports, "fan_tag_ids_refresh", killed)
        with pytest.raises(Killed):
            crm.import_apply(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).status == "running"
    assert not FanTag.objects.exists()  # one transaction: nothing half-imported
    assert sweep() == {}
    lease_expired(ImportJob, job.pk)
    assert sweep() == {"requeued": 1}
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["imported"] == 3 and job.result["tags_added"] == 3
    assert FanTagEvent.objects.filter(action="add").count() == 3
    assert sorted(Fan.objects.filter(pk__in=[f.pk for f in fans]).values_list("notes", flat=True)) == sorted(
        f"备注{f.pk}" for f in fans
    )
    assert AuditLog.objects.filter(action="import").count() == 1
    assert sweep() == {}


@pytest.mark.parametrize("state", ["preview", "queued", "running_stale"])
def test_import_can_be_cancelled_from_any_unfinished_state(shop, api, monkeypatch, state, sweep):
    fan = FanFactory(shop=shop)
    member = owner_member(shop)
    job = crm.import_preview(member=member, upload=import_file(f"{fan.pk},preference:looks,\n"))
    if state != "preview":
        with monkeypatch.context() as no_worker:
            no_worker.setattr("fans.crm.tasks.import_apply_task.delay", lambda *a: None)
            crm.import_confirm(member=member, job=job)
    if state == "running_stale":
        ImportJob.objects.filter(pk=job.pk).update(status="running", attempts=1)
        lease_expired(ImportJob, job.pk)
    response = api(shop.owner).post(f"/api/imports/{job.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert sweep() == {}
    crm.import_apply(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).status == "cancelled"
    assert not FanTag.objects.exists()
    again = api(shop.owner).post(f"/api/imports/{job.pk}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "job_finished"


def test_cancel_requested_during_an_import_rolls_it_back(shop, monkeypatch):
    fan = FanFactory(shop=shop)
    member = owner_member(shop)
    job = crm.import_preview(member=member, upload=import_file(f"{fan.pk},preference:looks,新备注\n"))
    monkeypatch.setattr("fans.crm.tasks.import_apply_task.delay", lambda *a: None)
    crm.import_confirm(member=member, job=job)
    real_refresh = imports.fan_tag_ids_refresh

    def cancel_meanwhile(*args, **kwargs):
        real_refresh(*args, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(cancel_requested=True)

    monkeypatch.setattr(imports, "fan_tag_ids_refresh", cancel_meanwhile)
    crm.import_apply(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).status == "cancelled"
    assert not FanTag.objects.exists()
    assert Fan.objects.get(pk=fan.pk).notes == ""
