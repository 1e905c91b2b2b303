"""Bulk jobs over a selection of fans (tag, untag, assign, export), with progress, cancel and recovery."""

import csv
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core.files import File
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import is_postgresql
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
    fans_by_ids,
    selection_clean,
    selection_count,
    selection_queryset,
    tag_strings_by_id,
)
from fans.crm.services.imports import IMPORT_TASK, import_swept
from fans.crm.services.tagging import (
    fan_tags_bulk_add,
    fan_tags_bulk_remove,
)
from fans.crm.vocabulary import check_single_choice, split_tag_list, tags_resolve
from shops.models import Shop, ShopMember
from shops.roles import BulkChange, require_act_on_work_of, require_bulk_change

logger = logging.getLogger(__name__)

RUN_TASK = "fans.tasks.bulk_job_run_task"

EXPORT_HEADER = [
    "fan_id",
    "username",
    "display_name",
    "joined_at",
    "assigned_to",
    "total_spend",
    "pledge_count",
    "last_message_at",
    "notes",
    "tags",
]


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
    if action in (BulkJob.ADD_TAGS, BulkJob.REMOVE_TAGS):
        resolved = tags_resolve(member.shop, split_tag_list(tags))
        if not resolved:
            raise Invalid(_("Choose at least one tag."))
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
    export: _ExportWriter | None = None
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
            export = _ExportWriter(job)
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


def fan_export_rows(
    shop: Shop, fan_ids: list[int], tag_names: dict[int, str] | None = None
) -> Iterator[list[object]]:
    """Export rows for a batch of fans, in id order, in one query (tags come from Fan.tag_ids)."""
    names = tag_names if tag_names is not None else tag_strings_by_id(shop)
    fans = (
        fans_by_ids(shop, fan_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "user__username",
            "display_name",
            "joined_at",
            "assigned_to__username",
            "total_spend",
            "pledge_count",
            "conversation__last_message_at",
            "notes",
            "tag_ids",
        )
    )
    for pk, username, name, joined, assigned, spend, pledges, last_msg, notes, tag_ids in fans:
        yield [
            pk,
            username,
            name,
            joined.isoformat(),
            assigned or "",
            spend,
            pledges,
            last_msg.isoformat() if last_msg else "",
            notes,
            ";".join(names[t] for t in tag_ids if t in names),
        ]


class _ExportWriter:
    """Streams export rows to a temporary file, then stores it on the job."""

    def __init__(self, job: BulkJob) -> None:
        self.job = job
        self.tag_names = tag_strings_by_id(job.shop)
        fd, self.path = tempfile.mkstemp(suffix=".csv")
        self.stream = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.stream)
        self.writer.writerow(EXPORT_HEADER)

    def write(self, fan_ids: list[int]) -> int:
        from fans.crm.csvio import cell_safe

        if is_postgresql(connection):
            return self._copy(fan_ids)
        n = 0
        for row in fan_export_rows(self.job.shop, fan_ids, self.tag_names):
            self.writer.writerow([cell_safe(v) for v in row])
            n += 1
        return n

    def _copy(self, fan_ids: list[int]) -> int:
        """PostgreSQL writes the CSV itself (COPY), several times faster than row objects; same columns and
        the same formula neutralising as fans.csvio.cell_safe."""

        def safe(expr: str) -> str:
            return f"CASE WHEN ({expr}) ~ '^[=+@\t\r-]' THEN '''' || ({expr}) ELSE ({expr}) END"

        tags = (
            "COALESCE((SELECT string_agg(g.code || ':' || t.code, ';' ORDER BY t.id) "
            "FROM jsonb_array_elements_text(f.tag_ids) AS x(id) JOIN fans_tag t ON t.id = x.id::bigint "
            "JOIN fans_taggroup g ON g.id = t.group_id), '')"
        )
        sql = (
            f"COPY (SELECT f.id, {safe('u.username')}, {safe('f.display_name')}, to_json(f.joined_at) #>> '{{}}', "
            f"COALESCE({safe('a.username')}, ''), f.total_spend, f.pledge_count, "
            f"COALESCE(to_json(c.last_message_at) #>> '{{}}', ''), {safe('f.notes')}, {safe(tags)} "
            "FROM fans_fan f JOIN auth_user u ON u.id = f.user_id LEFT JOIN auth_user a ON a.id = f.assigned_to_id "
            "LEFT JOIN fans_conversation c ON c.fan_id = f.id "
            f"WHERE f.shop_id = {int(self.job.shop_id)} AND f.id = ANY(%s) ORDER BY f.id) TO STDOUT WITH (FORMAT csv)"
        )
        self.stream.flush()
        with connection.cursor() as cursor:
            with cursor.cursor.copy(sql, [fan_ids]) as copy:
                data = b"".join(bytes(chunk) for chunk in copy).decode("utf-8")
            rows = cursor.cursor.rowcount
        self.stream.write(data)
        return rows

    def save(self) -> None:
        self.stream.close()
        with open(self.path, "rb") as fh:
            self.job.file.save(f"fans-{self.job.shop_id}-{self.job.pk}.csv", File(fh), save=False)
        BulkJob.objects.filter(pk=self.job.pk).update(file=self.job.file.name)
        os.unlink(self.path)

    def discard(self) -> None:
        if not self.stream.closed:
            self.stream.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
