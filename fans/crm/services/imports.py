"""CSV import of fans' tags, notes and assignees: preview with per-row errors, then apply."""

import csv
import io
from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from core.tasks import task_dispatch_on_commit
from fans.chat.models import Fan
from fans.crm.csvio import cell_unsafe, decode_csv
from fans.crm.models import ImportJob, Tag, TagSource
from fans.crm.services.common import BATCH, _assign_batch, audit, fans_by_ids
from fans.crm.services.tagging import (
    fan_tag_ids_refresh,
    fan_tags_bulk_add,
)
from fans.crm.vocabulary import check_single_choice, split_tag_list
from shops.models import Shop, ShopMember

IMPORT_MAX_BYTES = 50 * 1024 * 1024


IMPORT_MAX_ERRORS = 1000


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


def _import_parse(shop: Shop, text: str) -> _ParsedImport:
    out = _ParsedImport()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
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
    }
    unknown_cols = [h for h in header if h not in known]
    if unknown_cols:
        out.warnings.append(_("Ignored columns: %(c)s") % {"c": ", ".join(unknown_cols)})

    vocab = {
        f"{t.group.code}:{t.code}": t
        for t in Tag.objects.select_related("group").filter(group__shop__isnull=True)
        | Tag.objects.select_related("group").filter(group__shop=shop)
    }
    staff = dict(
        ShopMember.objects.filter(shop=shop, is_active=True).values_list("user__username", "user_id")
    )
    raw_rows = list(reader)
    by_id: dict[int, int] = {}
    by_username: dict[str, int] = {}
    ids = {r.get("fan_id", "").strip() for r in raw_rows if r.get("fan_id")}
    numeric_ids = [int(i) for i in ids if i.isdigit()]
    for start in range(0, len(numeric_ids), BATCH):
        by_id.update(
            {
                pk: pk
                for pk in fans_by_ids(shop, numeric_ids[start : start + BATCH]).values_list("pk", flat=True)
            }
        )
    names = [r.get("username", "").strip() for r in raw_rows if r.get("username") and not r.get("fan_id")]
    for start in range(0, len(names), BATCH):
        by_username.update(
            dict(
                Fan.objects.filter(shop=shop, user__username__in=names[start : start + BATCH]).values_list(
                    "user__username", "pk"
                )
            )
        )

    seen: dict[int, int] = {}
    for index, row in enumerate(raw_rows):
        line = index + 2  # the header is row 1
        out.total += 1
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
        tag_strings = split_tag_list(cell_unsafe((row.get("tags") or "").strip()))
        unknown = [s for s in tag_strings if s not in vocab]
        if unknown:
            out.error(line, _("Unknown tags: %(t)s") % {"t": ", ".join(unknown)})
            continue
        tags = [vocab[s] for s in dict.fromkeys(tag_strings)]
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
    return out


def import_preview(*, member: ShopMember, upload: UploadedFile) -> ImportJob:
    """Check a CSV and keep it with a per-row error report; nothing changes until it is confirmed."""
    if upload.size is not None and upload.size > IMPORT_MAX_BYTES:
        raise Invalid(_("The file is larger than 50 MB."), code="file_too_large")
    raw = upload.read(IMPORT_MAX_BYTES + 1)
    if len(raw) > IMPORT_MAX_BYTES:
        raise Invalid(_("The file is larger than 50 MB."), code="file_too_large")
    text, encoding = decode_csv(raw)
    try:
        parsed = _import_parse(member.shop, text)
    except csv.Error as exc:
        raise Invalid(_("The file is not valid CSV: %(e)s") % {"e": exc}, code="bad_csv") from None
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

    updated = ImportJob.objects.filter(pk=job.pk, status="preview").update(status="queued")
    if not updated:
        raise Conflict(_("This import was confirmed already."), code="import_started")
    if job.valid == 0:
        ImportJob.objects.filter(pk=job.pk).update(
            status="failed", result={**job.result, "error": "no valid rows"}
        )
        raise Invalid(_("The file has no valid rows to import."), code="no_valid_rows")
    task_dispatch_on_commit("fans.tasks.import_apply_task", job.pk)
    job.refresh_from_db()
    return job


def import_progress_key(job_id: int) -> str:
    return f"import-progress:{job_id}"


def import_apply(*, job_id: int) -> None:
    """Apply every valid row in ONE transaction: a failure leaves nothing half-imported."""
    job = ImportJob.objects.select_related("shop", "created_by").filter(pk=job_id).first()
    if job is None or job.status not in ("queued", "running"):
        return
    ImportJob.objects.filter(pk=job.pk).update(status="running")
    try:
        with job.file.open("rb") as fh:
            parsed = _import_parse(job.shop, fh.read().decode("utf-8"))
        rows = parsed.rows
        by_tag: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            for tag_id in row["tags"]:
                by_tag[tag_id].append(row["fan"])
        tags = {t.pk: t for t in Tag.objects.select_related("group").filter(pk__in=by_tag)}
        steps = max(len(by_tag) + 2, 1)
        done = 0
        changed = 0
        with transaction.atomic():
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
                cache.set(import_progress_key(job.pk), done / steps, 3600)
            notes = {r["fan"]: r["notes"] for r in rows if r["notes"] is not None}
            fan_tag_ids_refresh(sorted(touched), notes=notes)
            by_staff: dict[int, list[int]] = defaultdict(list)
            for r in rows:
                if r["assigned_to"]:
                    by_staff[r["assigned_to"]].append(r["fan"])
            for staff_id, fan_ids in by_staff.items():
                for start in range(0, len(fan_ids), BATCH):
                    _assign_batch(job.shop, fan_ids[start : start + BATCH], staff_id)
            cache.set(import_progress_key(job.pk), (steps - 1) / steps, 3600)
            result = {
                **job.result,
                "imported": len(rows),
                "tags_added": changed,
                "notes_updated": len(notes),
                "skipped": parsed.error_count,
            }
            ImportJob.objects.filter(pk=job.pk).update(
                status="succeeded", processed=job.total, finished_at=timezone.now(), result=result
            )
            audit(shop=job.shop, actor=job.created_by, action="import", count=len(rows), job=job.pk, **result)
    except Exception as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            status="failed", finished_at=timezone.now(), result={**job.result, "error": str(exc)[:500]}
        )
        raise
    finally:
        cache.delete(import_progress_key(job.pk))
