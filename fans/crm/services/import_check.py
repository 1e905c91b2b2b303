"""The worker's half of a CSV import preview (issue 17): a file above IMPORT_INLINE_BYTES is stored as it came
and checked here, streamed from storage, so a 50 MB file costs the web process neither the time nor the memory.
The job shows `checking` with progress until it becomes a `preview` (or `failed`, with the coded reason)."""

import codecs
import csv
import io
import tempfile
from typing import IO

from django.core.files import File
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, Forbidden, Invalid
from fans.crm.models import ImportJob
from fans.crm.services.imports import (
    IMPORT_CHECKING,
    _import_changes_check,
    _import_parse,
    _progress_report,
)
from shops.models import ShopMember


def _encoding_sniff(job: ImportJob) -> str:
    """UTF-8 (with or without BOM) or GB18030, decided by decoding the stored file in chunks."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with job.file.open("rb") as fh:
                while chunk := fh.read(1024 * 1024):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise Invalid(_("The file is neither UTF-8 nor GBK text."), code="bad_encoding")


def _checked_fail(job: ImportJob, error: DomainError) -> None:
    ImportJob.objects.filter(pk=job.pk, status=IMPORT_CHECKING).update(
        status="failed",
        finished_at=timezone.now(),
        result={"error": error.message, "code": error.code, "detail": error.detail},
    )


def import_check(*, job_id: int) -> None:
    """The worker's preview of a large file: streamed from storage (twice), checked with the uploader's role,
    stored back as UTF-8, and the job moved to `preview`, or to `failed` with the coded reason."""
    job = ImportJob.objects.select_related("shop").filter(pk=job_id, status=IMPORT_CHECKING).first()
    if job is None:
        return
    try:
        member = ShopMember.objects.select_related("shop", "user").get(
            shop=job.shop, user_id=job.created_by_id, is_active=True
        )
        encoding = _encoding_sniff(job)

        def opened() -> IO[str]:
            return io.TextIOWrapper(job.file.open("rb"), encoding=encoding, newline="")

        try:
            parsed = _import_parse(job.shop, opened, progress=lambda f: _progress_report(job.pk, f))
        except csv.Error as exc:
            raise Invalid(_("The file is not valid CSV: %(e)s") % {"e": exc}, code="bad_csv") from None
        _import_changes_check(member, job.shop, parsed.rows)
    except ShopMember.DoesNotExist:
        _checked_fail(job, Forbidden())
        return
    except DomainError as refused:
        _checked_fail(job, refused)
        return
    finally:
        _progress_report(job.pk, None)
    if encoding != "utf-8-sig":  # applying reads UTF-8: rewrite the GBK file once, in chunks
        old_name = job.file.name
        with opened() as src, tempfile.TemporaryFile() as utf8:
            while text := src.read(1024 * 1024):
                utf8.write(text.encode("utf-8"))
            utf8.seek(0)
            job.file.save(f"import-{job.shop_id}.csv", File(utf8), save=False)
        job.file.storage.delete(old_name)
    ImportJob.objects.filter(pk=job.pk, status=IMPORT_CHECKING).update(
        status="preview",
        file=job.file.name,
        encoding="utf-8" if encoding == "utf-8-sig" else "gbk",
        total=parsed.total,
        valid=len(parsed.rows),
        errors=parsed.errors,
        result={"error_count": parsed.error_count, "warnings": parsed.warnings},
    )
