"""bench/crm.py's measurements, in process through the real URLconf and services: the segment query and
the fan list through the API, the bulk tag job, the CSV import and the export (each returns its figures)."""

import io
import random
import time
from typing import Any

from bench.common import percentile


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def summary(values_ms: list[float]) -> dict[str, Any]:
    return {
        "runs": len(values_ms),
        "p50_ms": percentile(values_ms, 50),
        "p95_ms": percentile(values_ms, 95),
        "max_ms": max(values_ms) if values_ms else None,
    }


# --- measurements ---------------------------------------------------------------------------------


def tag_triples(shop, runs: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(A, B, C): A and B from different groups (so both can hold), C from a third; popular and rare mixed."""
    from fans.crm.models import Tag

    tags = list(
        Tag.objects.select_related("group").filter(group__shop__isnull=True)
        | Tag.objects.select_related("group").filter(group__shop=shop)
    )
    triples = []
    while len(triples) < runs:
        a, b, c = rng.sample(tags, 3)
        if len({a.group_id, b.group_id, c.group_id}) == 3:
            triples.append(tuple(f"{t.group.code}:{t.code}" for t in (a, b, c)))
    return triples


def segment_queries(client, shop, triples) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get(a: str, b: str, c: str):
        response = client.get(
            "/api/fans/", {"shop": shop.pk, "tags_all": f"{a},{b}", "tags_none": c, "limit": 50}
        )
        assert response.status_code == 200, response.content[:300]
        return response

    for triple in triples[:5]:  # warm the caches and the connection
        get(*triple)
    times, counts = [], []
    for triple in triples:
        t0 = time.perf_counter()
        response = get(*triple)
        times.append(ms(time.perf_counter() - t0))
        counts.append(response.json()["count"])
    # Where the time goes: per-query times of one more pass (the query log itself costs a little).
    with CaptureQueriesContext(connection) as ctx:
        get(*triples[0])
    queries = [{"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"][:400]} for q in ctx.captured_queries]
    return {
        **summary(times),
        "matched_min": min(counts),
        "matched_max": max(counts),
        "matched_median": sorted(counts)[len(counts) // 2],
        "runs_ms": times,
        "one_request_queries": queries,
    }


def fan_list_page(client, shop) -> dict[str, Any]:
    """The /fans/ page (a shell whose rows come from the API) and the API call behind it, unfiltered."""
    from django.urls import Resolver404, resolve

    def timed(path: str, params: dict[str, Any]) -> dict[str, Any]:
        times = []
        for i in range(12):
            t0 = time.perf_counter()
            response = client.get(path, params)
            if i >= 2:
                times.append(ms(time.perf_counter() - t0))
            assert response.status_code == 200, (path, response.status_code)
        return summary(times)

    out: dict[str, Any] = {
        "api": {
            "what": "GET /api/fans/?limit=50 (count of every fan + first page by -joined_at)",
            **timed("/api/fans/", {"shop": shop.pk, "limit": 50}),
        }
    }
    try:
        resolve("/fans/")
        out["page"] = {
            "what": "GET /fans/ (HTML shell; its rows load from the API above)",
            **timed("/fans/", {"shop": shop.pk}),
        }
    except Resolver404:
        out["page"] = None
    return out


def bulk_tag(member, fan_ids: list[int], tag: str) -> dict[str, Any]:
    from fans.crm import services as crm
    from fans.crm.models import BulkJob, FanTag, Tag

    tag_obj = Tag.objects.get(group__code=tag.split(":")[0], code=tag.split(":")[1])
    before = FanTag.objects.filter(tag=tag_obj, fan_id__in=fan_ids).count()
    t0 = time.perf_counter()
    job = crm.bulk_job_create(member=member, action=BulkJob.ADD_TAGS, tags=[tag], fan_ids=fan_ids)
    elapsed = time.perf_counter() - t0
    job.refresh_from_db()
    assert job.status == "succeeded", job.result
    after = FanTag.objects.filter(tag=tag_obj, fan_id__in=fan_ids).count()
    assert after == len(fan_ids), (after, len(fan_ids))
    return {
        "s": round(elapsed, 2),
        "tag": tag,
        "fans": len(fan_ids),
        "already_tagged": before,
        "changed": job.changed,
    }


def build_import_csv(shop, fan_ids: list[int], new_tag: str, rng: random.Random) -> bytes:
    from fans.crm.services.jobs import fan_export_rows

    out = io.StringIO()
    out.write("fan_id,tags,notes\n")
    import csv

    writer = csv.writer(out)
    for start in range(0, len(fan_ids), 5000):
        for row in fan_export_rows(shop, fan_ids[start : start + 5000]):
            tags = [t for t in row[-1].split(";") if t]
            if new_tag not in tags:
                tags.append(new_tag)
            notes = f"导入备注 {rng.randint(1, 999)}" if rng.random() < 0.1 else ""
            writer.writerow([row[0], ";".join(tags), notes])
    return out.getvalue().encode("utf-8")


def import_csv(member, data: bytes) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from fans.crm import services as crm
    from fans.crm.models import ImportJob

    t0 = time.perf_counter()
    job = crm.import_preview(
        member=member, upload=SimpleUploadedFile("fans.csv", data, content_type="text/csv")
    )
    preview = time.perf_counter() - t0
    t1 = time.perf_counter()
    crm.import_confirm(member=member, job=job)  # eager Celery: import_apply runs here, on commit
    apply = time.perf_counter() - t1
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == "succeeded", job.result
    return {
        "s": round(preview + apply, 2),
        "preview_s": round(preview, 2),
        "apply_s": round(apply, 2),
        "rows": job.total,
        "valid": job.valid,
        "bytes": len(data),
        "result": job.result,
    }


def export_csv(member, fan_ids: list[int]) -> dict[str, Any]:
    from fans.crm import services as crm
    from fans.crm.models import BulkJob

    t0 = time.perf_counter()
    job = crm.bulk_job_create(member=member, action=BulkJob.EXPORT, fan_ids=fan_ids)
    elapsed = time.perf_counter() - t0
    job.refresh_from_db()
    assert job.status == "succeeded", job.result
    size = job.file.size
    return {"s": round(elapsed, 2), "fans": len(fan_ids), "rows": job.changed, "bytes": size}
