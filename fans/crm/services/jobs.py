"""Bulk jobs over a selection of fans (tag, untag, assign, export), with progress, cancel and recovery."""

import logging
from collections import Counter
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from core.jobs import (
    JobStatus,
    LeaseLost,
    job_beat,
    job_cancel,
    job_cancel_requested,
    job_claim,
    job_finish,
)
from core.jobs import jobs_sweep as core_jobs_sweep
from core.tasks import task_dispatch_on_commit
from fans.crm.models import BulkJob, ImportJob, TagSource
from fans.crm.services.common import (
    BATCH,
    _assign_batch,
    audit,
    selection_clean,
    selection_count,
    selection_queryset,
)
from fans.crm.services.export import EXPORT_HEADER, ExportWriter, fan_export_rows  # noqa: F401 - re-exported
from fans.crm.services.imports import IMPORT_TASK, import_swept
from fans.crm.services.tagging import (
    fan_tags_bulk_add,
    fan_tags_bulk_remove,
)
from fans.crm.vocabulary import check_not_system, check_single_choice, split_tag_list, tags_resolve
from shops.models import ShopMember
from shops.roles import BulkChange, require_act_on_work_of, require_bulk_change

logger = logging.getLogger(__name__)

RUN_TASK = "fans.tasks.bulk_job_run_task"


def bulk_job_create(
    *,
    member: ShopMember,
    action: str,
    tags: Any = None,
    staff: Any = None,
    fan_ids: Any = None,
    segment: Any = None,
    filter: Any = None,
) -> BulkJob:
    """Create the job and dispatch it after commit. The broker being down does not fail the request: the job
    stays queued and the sweeper (jobs_sweep) dispatches it once the broker is back."""
    actions = dict(BulkJob.ACTIONS)
    if action not in actions:
        raise Invalid(_("Unknown action; use one of %(a)s.") % {"a": ", ".join(actions)})
    require_bulk_change(member, BulkChange(action))
    params: dict[str, Any] = {}
    if action == BulkJob.EXPORT:
        # The file is written later by a worker: its column labels follow the language of the request.
        params["language"] = get_language() or settings.LANGUAGE_CODE
    if action in (BulkJob.ADD_TAGS, BulkJob.REMOVE_TAGS):
        resolved = tags_resolve(member.shop, split_tag_list(tags))
        if not resolved:
            raise Invalid(_("Choose at least one tag."))
        check_not_system(resolved)
        if action == BulkJob.ADD_TAGS:
            check_single_choice(resolved)
        params["tags"] = [f"{t.group.code}:{t.code}" for t in resolved]
    if action == BulkJob.ASSIGN:
        if staff is None:
            params["staff"] = None
        else:
            target = ShopMember.objects.filter(
                shop=member.shop, user_id=staff if isinstance(staff, int) else -1, is_active=True
            ).first()
            if target is None:
                raise Invalid(_("The staff member is not on this shop's team."))
            params["staff"] = target.user_id
    selection = selection_clean(member, fan_ids=fan_ids, segment=segment, filter=filter)
    with transaction.atomic():
        job = BulkJob.objects.create(
            shop=member.shop,
            created_by=member.user,
            action=action,
            params=params,
            selection=selection,
            total=selection_count(member.shop, selection),
        )
        task_dispatch_on_commit(RUN_TASK, job.pk)
    return job


def bulk_job_cancel(*, member: ShopMember, job: BulkJob) -> BulkJob:
    """Cancel in any unfinished state: at once when no live worker holds the job, else at its next batch."""
    require_act_on_work_of(member, job.created_by_id)
    outcome = job_cancel(BulkJob, job.pk)
    if outcome == "finished":
        raise Conflict(_("The job has finished already."), code="job_finished")
    if outcome == "cancelled" and job.status == JobStatus.RUNNING:
        _bulk_job_audit(BulkJob.objects.select_related("shop", "created_by").get(pk=job.pk))
    job.refresh_from_db()
    return job


def _after_batch(job_id: int, processed: int) -> None:
    """Test seam: a worker killed between batches stops here (tests/fans/crm/test_jobs_recovery.py)."""


def bulk_job_run(*, job_id: int) -> None:
    """Run a bulk job batch by batch; each batch commits on its own, with the job's progress and lease.

    Safe to run twice and resumable: only a queued job is taken (core.jobs.job_claim), and a job whose worker
    was lost is queued again by the sweeper and resumes after the last fan of its last committed batch.
    """
    attempt = job_claim(BulkJob, job_id, started_at=Coalesce(F("started_at"), Value(timezone.now())))
    if attempt is None:
        return
    job = BulkJob.objects.select_related("shop", "created_by").get(pk=job_id)
    tags = tags_resolve(job.shop, job.params.get("tags", [])) if job.params.get("tags") else []
    source = TagSource.OWNER if job.shop.owner_id == job.created_by_id else TagSource.STAFF
    export: ExportWriter | None = None
    cancelled = False
    try:
        # An export starts over: its file was the lost worker's. So does a job with progress but no cursor
        # (left running by the release before this one): its batches are idempotent, its counts are redone.
        if job.action == BulkJob.EXPORT or job.last_fan_id is None:
            job.processed, job.changed, job.last_fan_id = 0, 0, None
        fans = selection_queryset(job.shop, job.selection).order_by("pk")
        if job.last_fan_id is not None:
            fans = fans.filter(pk__gt=job.last_fan_id)
        ids = list(fans.values_list("pk", flat=True))
        job_beat(
            BulkJob,
            job.pk,
            attempt,
            processed=job.processed,
            changed=job.changed,
            last_fan_id=job.last_fan_id,
            total=job.processed + len(ids),
        )
        if job.action == BulkJob.EXPORT:
            export = ExportWriter(job)
        for start in range(0, len(ids), BATCH):
            if job_cancel_requested(BulkJob, job.pk):
                cancelled = True
                break
            batch = ids[start : start + BATCH]
            with transaction.atomic():
                changed = 0
                if job.action == BulkJob.ADD_TAGS:
                    changed = fan_tags_bulk_add(fan_ids=batch, tags=tags, source=source, actor=job.created_by)
                elif job.action == BulkJob.REMOVE_TAGS:
                    changed = fan_tags_bulk_remove(
                        fan_ids=batch, tags=tags, source=source, actor=job.created_by
                    )
                elif job.action == BulkJob.ASSIGN:
                    changed = _assign_batch(job.shop, batch, job.params.get("staff"))
                elif export is not None:
                    changed = export.write(batch)
                # The batch and its count commit together, so a resumed run neither redoes nor recounts it.
                job_beat(
                    BulkJob,
                    job.pk,
                    attempt,
                    processed=F("processed") + len(batch),
                    changed=F("changed") + changed,
                    last_fan_id=batch[-1],
                )
            _after_batch(job.pk, start + len(batch))
        if export is not None and not cancelled:
            export.save()
    except LeaseLost:
        logger.warning("bulk job %s was taken from this worker (attempt %s); stopping", job.pk, attempt)
        if export is not None:
            export.discard()
        return
    except Exception as exc:
        if export is not None:
            export.discard()
        job_finish(BulkJob, job.pk, attempt, JobStatus.FAILED, result={"error": str(exc)[:500]})
        raise
    if export is not None and cancelled:
        export.discard()
    job.refresh_from_db()
    status = JobStatus.CANCELLED if cancelled else JobStatus.SUCCEEDED
    if job_finish(BulkJob, job.pk, attempt, status, result=_summary(job)):
        job.status = status
        _bulk_job_audit(job)


def _summary(job: BulkJob) -> dict[str, int]:
    return {"matched": job.total, "processed": job.processed, "changed": job.changed}


def _bulk_job_audit(job: BulkJob) -> None:
    summary = _summary(job)
    audit(
        shop=job.shop,
        actor=job.created_by,
        action=f"bulk.{job.action}",
        count=job.processed,
        job=job.pk,
        status=job.status,
        params=job.params,
        **summary,
    )


def _bulk_job_swept(job_id: int, status: str) -> None:
    """The sweeper finished a job whose worker was lost (a cancel it never saw, or too many attempts)."""
    job = BulkJob.objects.select_related("shop", "created_by").get(pk=job_id)
    if status == JobStatus.FAILED:
        error = _("The worker running this job was lost %(n)d times.") % {"n": job.attempts}
        BulkJob.objects.filter(pk=job_id).update(result={**_summary(job), "error": error})
    _bulk_job_audit(job)


def jobs_sweep() -> dict[str, int]:
    """Beat's recovery of the CRM's jobs (bulk jobs, then imports): see core.jobs."""
    done: Counter[str] = Counter()
    done.update(core_jobs_sweep(BulkJob, RUN_TASK, on_finished=_bulk_job_swept))
    done.update(core_jobs_sweep(ImportJob, IMPORT_TASK, on_finished=import_swept))
    return dict(done)
