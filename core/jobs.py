"""Background jobs that outlive the worker running them: a lease on each job row, and a sweeper.

A job row (a bulk job, an import, a broadcast) goes queued → running → succeeded, failed or cancelled. The worker
that takes a queued job (`job_claim`) gets the next attempt number, and every later write of that worker is fenced
by it (`job_beat`, `job_finish`: still running, still its attempt), so a worker given up on cannot commit another
batch. A worker renews its lease, `heartbeat_at`, in the transaction of every batch it commits.

The sweeper (`jobs_sweep`, run by Celery beat every 30 s) recovers what the broker cannot:
- a running job whose heartbeat is older than JOB_STALE_S lost its worker (SIGKILL of the worker, whose message
  comes back only after the visibility timeout; a killed pool child, whose acks_late message Celery acknowledges
  and never redelivers). It is queued and dispatched again, or finished when a cancel was asked or it has used
  JOB_MAX_ATTEMPTS;
- a queued job dispatched more than JOB_REDISPATCH_S ago and never started was lost with the broker (down when the
  job was created, or the message dropped). It is dispatched again: the job row is the outbox.
Each is one UPDATE guarded by the same condition that selected it, so of two sweepers only one acts on a job. For
a queued job, `heartbeat_at` is when it was last dispatched.
"""

import contextlib
import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connections, models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.tasks import task_dispatch_on_commit

logger = logging.getLogger(__name__)

# A worker commits a batch well within this (a bulk-job batch takes seconds); older means it is gone.
JOB_STALE_S = 120
# A queued job not started this long after its dispatch is dispatched again.
JOB_REDISPATCH_S = 60
# A job that lost its worker (or failed) this often is failed instead of retried: it may be what kills them.
JOB_MAX_ATTEMPTS = 5
SWEEP_LIMIT = 200


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class LeaseLost(Exception):
    """The job is no longer this worker's (the sweeper or a cancel took it): stop, writing nothing more."""


def _lost_worker(now: dt.datetime) -> Q:
    cutoff = now - dt.timedelta(seconds=JOB_STALE_S)
    return Q(status=JobStatus.RUNNING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))


def _lost_dispatch(now: dt.datetime) -> Q:
    cutoff = now - dt.timedelta(seconds=JOB_REDISPATCH_S)
    return Q(status=JobStatus.QUEUED) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    )


def _fenced(model: type[models.Model], pk: int, attempt: int) -> QuerySet:
    return model.objects.filter(pk=pk, status=JobStatus.RUNNING, attempts=attempt)


def job_claim(model: type[models.Model], pk: int, **changes: Any) -> int | None:
    """Take a queued job: running, a fresh lease, and the attempt number that fences this worker's writes.

    None when it is not queued: finished, cancelled, or another worker has it (a duplicate delivery).
    """
    with transaction.atomic():
        claimed = model.objects.filter(pk=pk, status=JobStatus.QUEUED, cancel_requested=False).update(
            status=JobStatus.RUNNING, heartbeat_at=timezone.now(), attempts=F("attempts") + 1, **changes
        )
        if not claimed:
            return None
        return model.objects.filter(pk=pk).values_list("attempts", flat=True).get()


def job_beat(model: type[models.Model], pk: int, attempt: int, **changes: Any) -> None:
    """Renew the lease and record progress. Call it last in each batch's transaction: LeaseLost rolls it back."""
    if not _fenced(model, pk, attempt).update(heartbeat_at=timezone.now(), **changes):
        raise LeaseLost(f"{model._meta.label} {pk} attempt {attempt}")


def job_cancel_requested(model: type[models.Model], pk: int) -> bool:
    return model.objects.filter(pk=pk, cancel_requested=True).exists()


def job_finish(
    model: type[models.Model],
    pk: int,
    attempt: int,
    status: str,
    *,
    unless_cancelled: bool = False,
    **changes: Any,
) -> bool:
    """The worker's last write; False if the job was taken from it meanwhile (and so is not its to finish), or,
    with `unless_cancelled`, if a cancel was asked (a cancel asked later finds it finished)."""
    fenced = _fenced(model, pk, attempt)
    if unless_cancelled:
        fenced = fenced.filter(cancel_requested=False)
    return bool(fenced.update(status=status, finished_at=timezone.now(), **changes))


def job_release(model: type[models.Model], pk: int, attempt: int, **changes: Any) -> str | None:
    """After an error: queue the job again for the sweeper to retry, or fail it once it used its attempts."""
    if attempt >= JOB_MAX_ATTEMPTS:
        return JobStatus.FAILED if job_finish(model, pk, attempt, JobStatus.FAILED, **changes) else None
    if _fenced(model, pk, attempt).update(status=JobStatus.QUEUED, heartbeat_at=timezone.now()):
        return JobStatus.QUEUED
    return None


def job_cancel(model: type[models.Model], pk: int, *, waiting: tuple[str, ...] = (JobStatus.QUEUED,)) -> str:
    """Cancel a job in any unfinished state.

    "cancelled": no live worker held it (still waiting, or its worker's lease ran out), so it is cancelled now;
    "requested": its worker stops at its next batch (or, should it die first, the sweeper finishes the cancel);
    "finished": it had finished already.
    """
    now = timezone.now()
    with transaction.atomic():
        if not model.objects.filter(pk=pk).exclude(status__in=FINISHED).update(cancel_requested=True):
            return "finished"
        held_by_nobody = Q(status__in=waiting) | _lost_worker(now)
        if model.objects.filter(held_by_nobody, pk=pk).update(status=JobStatus.CANCELLED, finished_at=now):
            return "cancelled"
    return "requested"


def jobs_due(model: type[models.Model], now: dt.datetime) -> list[tuple[int, str, bool, int]]:
    """The jobs the sweeper must act on, oldest first: (pk, status, cancel_requested, attempts)."""
    return list(
        model.objects.filter(_lost_worker(now) | _lost_dispatch(now))
        .order_by("pk")
        .values_list("pk", "status", "cancel_requested", "attempts")[:SWEEP_LIMIT]
    )


def jobs_sweep(
    model: type[models.Model], task_name: str, *, on_finished: Callable[[int, str], None] | None = None
) -> dict[str, int]:
    """Hand every job that lost its worker or its dispatch back to a worker, exactly once; see the module doc.

    Returns what it did, by kind ("requeued", "redispatched", "cancelled", "failed"), leaving out the zeros.
    `on_finished(pk, status)` runs for a job the sweeper finishes itself (cancelled or failed).
    """
    now = timezone.now()
    done: Counter[str] = Counter()
    for pk, status, cancel_requested, attempts in jobs_due(model, now):
        lost_worker = status == JobStatus.RUNNING
        still_due = model.objects.filter(_lost_worker(now) if lost_worker else _lost_dispatch(now), pk=pk)
        if lost_worker and (cancel_requested or attempts >= JOB_MAX_ATTEMPTS):
            outcome = JobStatus.CANCELLED if cancel_requested else JobStatus.FAILED
            if still_due.update(status=outcome, finished_at=now):
                done[str(outcome)] += 1
                if on_finished is not None:
                    on_finished(pk, outcome)
            continue
        if still_due.update(status=JobStatus.QUEUED, heartbeat_at=now):
            done["requeued" if lost_worker else "redispatched"] += 1
            task_dispatch_on_commit(task_name, pk)
    if done:
        logger.warning("%s sweep: %s", model._meta.label, dict(done))
    return dict(done)


@contextlib.contextmanager
def lease_kept(model: type[models.Model], pk: int, attempt: int) -> Iterator[None]:
    """Renew the lease from a thread (and connection) of its own while the caller works in one long
    transaction, whose own writes nobody sees before it commits (an import applies in one)."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(JOB_STALE_S / 4):
                try:
                    _fenced(model, pk, attempt).update(heartbeat_at=timezone.now())
                except Exception as exc:  # noqa: BLE001 - a missed beat only makes the lease run out sooner
                    logger.warning("lease renewal of %s %s failed: %r", model._meta.label, pk, exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"lease-{model._meta.model_name}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=JOB_STALE_S)
