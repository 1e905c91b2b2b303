"""CSV import of fans' tags, notes and assignees: preview with per-row errors, then apply."""

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import IO, Any

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import UNAVAILABLE_ERRORS, Conflict, Forbidden, Invalid
from core.jobs import JobStatus, job_cancel, job_claim, job_finish, lease_kept
from core.tasks import task_dispatch_on_commit
from fans.chat.models import Fan
from fans.crm.csvio import cell_unsafe, decode_csv
from fans.crm.models import FanTag, ImportJob, Tag, TagSource
from fans.crm.services.common import BATCH, _assign_batch, audit, fans_by_ids
from fans.crm.services.export import header_codes
from fans.crm.services.tagging import (
    fan_tag_ids_refresh,
    fan_tags_bulk_add,
)
from fans.crm.vocabulary import check_single_choice, split_tag_list, system_group_ids
from shops.models import Shop, ShopMember
from shops.roles import BulkChange, may_change_in_bulk, require_act_on_work_of, require_bulk_change

logger = logging.getLogger(__name__)

IMPORT_TASK = "fans.tasks.import_apply_task"
IMPORT_MAX_BYTES = 50 * 1024 * 1024


IMPORT_MAX_ERRORS = 1000
# Files up to this size are checked inside the request; larger ones by a worker (import_check).
IMPORT_INLINE_BYTES = 1024 * 1024
IMPORT_CHECK_TASK = "fans.tasks.import_check_task"
IMPORT_CHECKING = "checking"


class _ParsedImport:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0
        self.total = 0
        self.warnings: list[str] = []

    def error(self, row: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < IMPORT_MAX_ERRORS:
            self.errors.append({"row": row, "reason": reason})


def _tag_key(text: str) -> str:
    """A tag as written in a file, a code or a label: ASCII in any case, Chinese as is."""
    text = text.strip()
    return text.lower() if text.isascii() else text


def _import_parse(
    shop: Shop, text: str | Callable[[], IO[str]], *, progress: Callable[[float], None] | None = None
) -> _ParsedImport:
    """Parse and check an import: `text`, or a callable that opens the file as a text stream (read twice, once
    for the ids and once for the rows, so a 50 MB file is never held in memory; preview_check)."""

    def opened() -> IO[str]:
        return io.StringIO(text, newline="") if isinstance(text, str) else text()

    out = _ParsedImport()
    reader = csv.DictReader(opened())
    # Columns by code ("tags") or by the label an export wrote in either UI language ("标签代码", "Tags").
    names = header_codes()
    header = [names.get(h.strip().lower(), h.strip().lower()) for h in (reader.fieldnames or [])]
    if not header:
        raise Invalid(_("The file is empty."), code="empty_file")
    reader.fieldnames = header
    if "fan_id" not in header and "username" not in header:
        raise Invalid(
            _("The file needs a fan_id or a username column."),
            code="missing_columns",
            detail={"columns": header},
        )
    known = {
        "fan_id",
        "username",
        "tags",
        "notes",
        "assigned_to",
        "display_name",
        "joined_at",
        "total_spend",
        "pledge_count",
        "last_message_at",
        "tag_labels",
    }
    unknown_cols = [h for h in header if h not in known]
    if unknown_cols:
        out.warnings.append(_("Ignored columns: %(c)s") % {"c": ", ".join(unknown_cols)})

    shop_tags = list(
        Tag.objects.select_related("group").filter(group__shop__isnull=True)
        | Tag.objects.select_related("group").filter(group__shop=shop)
    )
    vocab = {_tag_key(f"{t.group.code}:{t.code}"): t for t in shop_tags}
    # The labels the UI shows, in either language: "肤质:油皮", "Skin type:Oily" (codes win on a clash).
    for t in shop_tags:
        for label in (f"{t.group.name_zh}:{t.name_zh}", f"{t.group.name_en}:{t.name_en}"):
            vocab.setdefault(_tag_key(label), t)
    staff = dict(
        ShopMember.objects.filter(shop=shop, is_active=True).values_list("user__username", "user_id")
    )
    ids: set[str] = set()
    names: list[str] = []
    for r in reader:  # the first pass: only who the rows name
        if r.get("fan_id"):
            ids.add(r["fan_id"].strip())
        elif r.get("username"):
            names.append(r["username"].strip())
    by_id: dict[int, int] = {}
    by_username: dict[str, int] = {}
    numeric_ids = [int(i) for i in ids if i.isdigit()]
    for start in range(0, len(numeric_ids), BATCH):
        by_id.update(
            {
                pk: pk
                for pk in fans_by_ids(shop, numeric_ids[start : start + BATCH]).values_list("pk", flat=True)
            }
        )
    for start in range(0, len(names), BATCH):
        by_username.update(
            dict(
                Fan.objects.filter(shop=shop, user__username__in=names[start : start + BATCH]).values_list(
                    "user__username", "pk"
                )
            )
        )

    seen: dict[int, int] = {}
    system, system_pairs = system_group_ids(), []
    rows = csv.DictReader(opened())
    rows.fieldnames = header
    next(rows, None)  # the header line itself, read as a row under the normalised names
    counted = len(ids) + len(names) or 1
    for index, row in enumerate(rows):
        line = index + 2  # the header is row 1
        out.total += 1
        if progress is not None and index % 5000 == 0:
            progress(min(0.99, index / counted))
        if None in row:  # more cells than the header has columns
            out.error(line, _("The row has more cells than the header."))
            continue
        fan_id_text = (row.get("fan_id") or "").strip()
        username = (row.get("username") or "").strip()
        if fan_id_text:
            fan_id = by_id.get(int(fan_id_text)) if fan_id_text.isdigit() else None
        elif username:
            fan_id = by_username.get(username)
        else:
            out.error(line, _("The row has neither fan_id nor username."))
            continue
        if fan_id is None:
            out.error(line, _("No fan %(who)s in this shop.") % {"who": fan_id_text or username})
            continue
        if fan_id in seen:
            out.error(line, _("Duplicate row: the same fan as row %(n)d.") % {"n": seen[fan_id]})
            continue
        cell = (row.get("tags") or "").strip() or (row.get("tag_labels") or "").strip()
        tag_strings = split_tag_list(cell_unsafe(cell).replace("：", ":"))
        unknown = [s for s in tag_strings if _tag_key(s) not in vocab]
        if unknown:
            out.error(line, _("Unknown tags: %(t)s") % {"t": ", ".join(unknown)})
            continue
        tags = list({vocab[_tag_key(s)].pk: vocab[_tag_key(s)] for s in tag_strings}.values())
        # Lifecycle tags: a file exported earlier carries them; the ones the fan holds are no change and are
        # dropped, any other is refused below (they are computed nightly, fans.crm.lifecycle).
        system_pairs += [(line, fan_id, t.pk) for t in tags if t.group_id in system]
        tags = [t for t in tags if t.group_id not in system]
        try:
            check_single_choice(tags)
        except Invalid as exc:
            out.error(line, exc.message)
            continue
        assigned_name = (row.get("assigned_to") or "").strip()
        if assigned_name and assigned_name not in staff:
            out.error(line, _("%(u)s is not on this shop's team.") % {"u": assigned_name})
            continue
        notes = row.get("notes")
        seen[fan_id] = line
        out.rows.append(
            {
                "fan": fan_id,
                "tags": [t.pk for t in tags],
                "notes": cell_unsafe(notes) if notes not in (None, "") else None,
                "assigned_to": staff[assigned_name] if assigned_name else None,
            }
        )
    held = set(
        FanTag.objects.filter(
            fan_id__any_of=sorted({f for _, f, _ in system_pairs}), group_id__in=system
        ).values_list("fan_id", "tag_id")
    )
    system_rows = sorted({line for line, f, t in system_pairs if (f, t) not in held})
    if system_rows:
        # The lifecycle tags are computed nightly (fans.crm.lifecycle): a file cannot set them.
        raise Invalid(
            _("Rows %(rows)s set lifecycle tags, which are set automatically; remove them from the file.")
            % {"rows": ", ".join(str(n) for n in system_rows[:20])},
            code="system_tag",
            detail={"rows": system_rows[:100]},
        )
    return out


def _may_make_every_change(member: ShopMember) -> bool:
    return all(
        may_change_in_bulk(member, c)
        for c in (BulkChange.ADD_TAGS, BulkChange.ASSIGN, BulkChange.OVERWRITE_NOTES)
    )


def _import_changes_check(member: ShopMember, shop: Shop, rows: list[dict[str, Any]]) -> None:
    """Refuse (403, nothing changed) what the member's role may not do to many fans (shops.roles), judged on
    the fans as they are now: an assignee that differs from the fan's, notes that replace different notes."""
    if any(row["tags"] for row in rows):
        require_bulk_change(member, BulkChange.ADD_TAGS)
    if _may_make_every_change(member):
        return
    assignees = {row["fan"]: row["assigned_to"] for row in rows if row["assigned_to"]}
    notes = {row["fan"]: row["notes"] for row in rows if row["notes"] is not None}
    ids = sorted(set(assignees) | set(notes))
    for start in range(0, len(ids), BATCH):
        current = fans_by_ids(shop, ids[start : start + BATCH]).values_list("pk", "assigned_to_id", "notes")
        for pk, assigned_to_id, old_notes in current:
            if pk in assignees and assignees[pk] != assigned_to_id:
                require_bulk_change(member, BulkChange.ASSIGN)
            if pk in notes and old_notes and notes[pk] != old_notes:
                require_bulk_change(member, BulkChange.OVERWRITE_NOTES)


def _import_parse_stored(job: ImportJob) -> _ParsedImport:
    with job.file.open("rb") as fh:
        return _import_parse(job.shop, fh.read().decode("utf-8"))


def import_preview(*, member: ShopMember, upload: UploadedFile) -> ImportJob:
    """Check a CSV and keep it with a per-row error report; nothing changes until it is confirmed.

    A small file is checked at once (the answer holds the preview). A larger one is stored as it came and
    checked by a worker (status `checking`, with progress; import_check), so the request neither waits for
    it nor holds it in memory (issue 17)."""
    if upload.size is not None and upload.size > IMPORT_MAX_BYTES:
        raise Invalid(_("The file is larger than 50 MB."), code="file_too_large")
    if upload.size is not None and upload.size > IMPORT_INLINE_BYTES:
        job = ImportJob(shop=member.shop, created_by=member.user, status=IMPORT_CHECKING)
        job.file.save(f"import-{member.shop_id}.csv", upload, save=False)  # copied in chunks
        with transaction.atomic():
            job.save()
            task_dispatch_on_commit(IMPORT_CHECK_TASK, job.pk)
        return job
    raw = upload.read(IMPORT_MAX_BYTES + 1)
    if len(raw) > IMPORT_MAX_BYTES:
        raise Invalid(_("The file is larger than 50 MB."), code="file_too_large")
    text, encoding = decode_csv(raw)
    try:
        parsed = _import_parse(member.shop, text)
    except csv.Error as exc:
        raise Invalid(_("The file is not valid CSV: %(e)s") % {"e": exc}, code="bad_csv") from None
    _import_changes_check(member, member.shop, parsed.rows)
    job = ImportJob(
        shop=member.shop,
        created_by=member.user,
        encoding=encoding,
        total=parsed.total,
        valid=len(parsed.rows),
        errors=parsed.errors,
        result={"error_count": parsed.error_count, "warnings": parsed.warnings},
    )
    # Store the decoded text as UTF-8 so applying never depends on guessing the encoding again.
    job.file.save(f"import-{member.shop_id}.csv", ContentFile(text.encode("utf-8")), save=False)
    job.save()
    return job


def import_confirm(*, member: ShopMember, job: ImportJob) -> ImportJob:
    """Queue the import, applied with the confirming member's role. The broker being down does not fail it:
    the import stays queued and the sweeper (jobs_sweep) dispatches it once the broker is back."""
    require_act_on_work_of(
        member,
        job.created_by_id,
        message=_("Only owners and managers confirm an import someone else prepared."),
    )
    if job.status != "preview":
        raise Conflict(_("This import was confirmed already."), code="import_started")
    if job.valid and not _may_make_every_change(member):
        # The fans may have changed since the preview (notes written meanwhile make an overwrite). A member
        # who may make every change skips re-reading the file: parsing 100k rows costs seconds.
        _import_changes_check(member, job.shop, _import_parse_stored(job).rows)
    updated = ImportJob.objects.filter(pk=job.pk, status="preview").update(
        status=JobStatus.QUEUED, confirmed_by=member.user, heartbeat_at=timezone.now()
    )
    if not updated:
        raise Conflict(_("This import was confirmed already."), code="import_started")
    if job.valid == 0:
        ImportJob.objects.filter(pk=job.pk).update(
            status="failed", result={**job.result, "error": "no valid rows"}
        )
        raise Invalid(_("The file has no valid rows to import."), code="no_valid_rows")
    task_dispatch_on_commit(IMPORT_TASK, job.pk)
    job.refresh_from_db()
    return job


def import_cancel(*, member: ShopMember, job: ImportJob) -> ImportJob:
    """Cancel a preview, a queued import, or one whose worker was lost, at once; a running one is rolled back."""
    require_act_on_work_of(member, job.created_by_id)
    if job_cancel(ImportJob, job.pk, waiting=("preview", JobStatus.QUEUED)) == "finished":
        raise Conflict(_("The job has finished already."), code="job_finished")
    job.refresh_from_db()
    return job


def import_progress_key(job_id: int) -> str:
    return f"import-progress:{job_id}"


def _progress_report(job_id: int, fraction: float | None) -> None:
    """Progress is a nicety kept in the cache: Redis being down must not fail (and roll back) an import."""
    try:
        if fraction is None:
            cache.delete(import_progress_key(job_id))
        else:
            cache.set(import_progress_key(job_id), fraction, 3600)
    except UNAVAILABLE_ERRORS as exc:
        logger.warning("import %s progress not reported: %r", job_id, exc)


def import_progress(job: ImportJob) -> float:
    """How far a running import is (from the cache, 0 when Redis is down); otherwise all or nothing."""
    if job.status not in (JobStatus.RUNNING, IMPORT_CHECKING):
        return job.progress
    try:
        return float(cache.get(import_progress_key(job.pk), 0.0))
    except UNAVAILABLE_ERRORS:
        return 0.0


class _Stopped(Exception):
    """A cancel was asked, or the import was taken from this worker, while it applied: roll all of it back."""


def import_apply(*, job_id: int) -> None:
    """Apply every valid row in ONE transaction: a failure, a cancel or a lost worker leaves nothing half-imported.

    Safe to run twice: only a queued import is taken (core.jobs.job_claim); one whose worker was lost is queued
    again by the sweeper and applied from the start.
    """
    attempt = job_claim(ImportJob, job_id)
    if attempt is None:
        return
    job = ImportJob.objects.select_related("shop", "created_by").get(pk=job_id)
    try:
        with lease_kept(ImportJob, job.pk, attempt), transaction.atomic():
            _import_apply_rows(job, attempt)
    except _Stopped:
        # Fenced: if it was taken rather than cancelled, this writes nothing.
        job_finish(ImportJob, job.pk, attempt, JobStatus.CANCELLED)
    except Exception as exc:
        job_finish(
            ImportJob, job.pk, attempt, JobStatus.FAILED, result={**job.result, "error": str(exc)[:500]}
        )
        raise
    finally:
        _progress_report(job.pk, None)


def _import_apply_rows(job: ImportJob, attempt: int) -> None:
    parsed = _import_parse_stored(job)
    rows = parsed.rows
    if job.confirmed_by_id is not None:
        confirmer = ShopMember.objects.filter(
            shop=job.shop, user_id=job.confirmed_by_id, is_active=True
        ).first()
        if confirmer is None:
            raise Forbidden(_("The person who confirmed this import is no longer on the team."))
        _import_changes_check(confirmer, job.shop, rows)
    by_tag: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        for tag_id in row["tags"]:
            by_tag[tag_id].append(row["fan"])
    tags = {t.pk: t for t in Tag.objects.select_related("group").filter(pk__in=by_tag)}
    steps = max(len(by_tag) + 2, 1)
    done = 0
    changed = 0
    touched: set[int] = set()
    for tag_id, fan_ids in by_tag.items():
        changed += fan_tags_bulk_add(
            fan_ids=fan_ids,
            tags=[tags[tag_id]],
            source=TagSource.IMPORT,
            actor=job.created_by,
            changed=touched,
        )
        done += 1
        _progress_report(job.pk, done / steps)
    notes = {r["fan"]: r["notes"] for r in rows if r["notes"] is not None}
    fan_tag_ids_refresh(sorted(touched), notes=notes)
    by_staff: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        if r["assigned_to"]:
            by_staff[r["assigned_to"]].append(r["fan"])
    for staff_id, fan_ids in by_staff.items():
        for start in range(0, len(fan_ids), BATCH):
            _assign_batch(job.shop, fan_ids[start : start + BATCH], staff_id)
    _progress_report(job.pk, (steps - 1) / steps)
    result = {
        **job.result,
        "imported": len(rows),
        "tags_added": changed,
        "notes_updated": len(notes),
        "skipped": parsed.error_count,
    }
    # Fenced by the attempt and by no cancel having been asked: otherwise all of it rolls back.
    if not job_finish(
        ImportJob,
        job.pk,
        attempt,
        JobStatus.SUCCEEDED,
        unless_cancelled=True,
        processed=job.total,
        result=result,
    ):
        raise _Stopped
    audit(
        shop=job.shop,
        actor=job.created_by,
        action="import",
        count=len(rows),
        job=job.pk,
        confirmed_by=job.confirmed_by_id,
        **result,
    )


def import_swept(job_id: int, status: str) -> None:
    """The sweeper finished an import whose worker was lost (a cancel it never saw, or too many attempts)."""
    if status == JobStatus.FAILED:
        job = ImportJob.objects.get(pk=job_id)
        error = _("The worker applying this import was lost %(n)d times.") % {"n": job.attempts}
        ImportJob.objects.filter(pk=job_id).update(result={**job.result, "error": error})
