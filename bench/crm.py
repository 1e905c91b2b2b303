"""Fan CRM scale bench: one shop with 1,000,000 fans and 60 tags on PostgreSQL.

    python bench/crm.py [--fans 1000000] [--skip-seed] [--runs 30]

Setup (unless --skip-seed): drop and create the bench database (its name must contain "bench"), migrate,
`bench/seed_scale.py`, VACUUM ANALYZE. Then, in process, through the real URLconf and services:

  segment_query_p95_ms  GET /api/fans/?tags_all=A,B&tags_none=C&limit=50 (count + first page) over --runs
                        different tag triples, after a warm-up pass
  fan_list_render_ms    the fan list HTML page if the URLconf has /fans/, else GET /api/fans/?limit=50
  bulk_tag_100k_s       bulk_job_create + bulk_job_run (eager Celery) adding one tag to 100k fans by fan_ids
  import_100k_csv_s     import_preview + import_confirm/import_apply of a 100k-row CSV of existing fans
  export_100k_csv_s     bulk export job (create + run) for 100k fans

schema_comparison: the same segment query as plain SQL on the join table (as is), on a scratch copy of the
fans with a denormalised `tag_ids bigint[]` column and a GIN index, and on the FanTagSet table the app queries
(intarray GIN + covering page index), with EXPLAIN ANALYZE of each.

Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/fansi_crm_bench), REDIS_URL (default
redis://127.0.0.1:6379/7). Writes bench/results/crm.json.
"""

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fansi_crm_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/7")
os.environ.setdefault("FANSI_CHANNEL_PREFIX", "fansi_crm_bench")
os.environ.setdefault("FANSI_CACHE_PREFIX", "fansi_crm_bench")
os.environ.setdefault("FANSI_MEDIA_ROOT", "/tmp/fansi_crm_bench_media")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["DJANGO_DEBUG"] = "0"  # no query log, as in production
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"  # jobs run in process, on commit
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

from bench.common import machine_info, percentile, print_machine, reset_database, write_results  # noqa: E402

TARGETS = {
    "segment_query_p95_ms": 50.0,
    "bulk_tag_100k_s": 10.0,
    "import_100k_csv_s": 30.0,
    "export_100k_csv_s": 10.0,
}
SLUG = "scale"
N_SELECTED = 100_000


def log(msg: str) -> None:
    print(f"[crm {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def vacuum_analyze(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


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


# --- schema comparison: join table vs tag_ids bigint[] + GIN -------------------------------------------


JOIN_COUNT = """SELECT count(*) FROM fans_fan f WHERE f.shop_id = %(shop)s
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(a)s)
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(b)s)
  AND NOT EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(c)s)"""
JOIN_PAGE = """SELECT f.id FROM fans_fan f WHERE f.shop_id = %(shop)s
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(a)s)
  AND EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(b)s)
  AND NOT EXISTS (SELECT 1 FROM fans_fantag t WHERE t.fan_id = f.id AND t.tag_id = %(c)s)
  ORDER BY f.joined_at DESC, f.id DESC LIMIT 50"""
TAG_SET_COUNT = """SELECT count(*) FROM fans_fantagset s WHERE s.shop_id = %(shop)s
  AND s.tags @> ARRAY[%(a)s, %(b)s]::integer[] AND NOT (s.tags && ARRAY[%(c)s]::integer[])"""
TAG_SET_PAGE = """SELECT s.fan_id FROM fans_fantagset s WHERE s.shop_id = %(shop)s
  AND s.tags @> ARRAY[%(a)s, %(b)s]::integer[] AND NOT (s.tags && ARRAY[%(c)s]::integer[])
  ORDER BY s.joined_at DESC, s.fan_id DESC LIMIT 50"""
ARRAY_COUNT = """SELECT count(*) FROM bench_fan_tag_ids f WHERE f.shop_id = %(shop)s
  AND f.tag_ids @> ARRAY[%(a)s, %(b)s]::bigint[] AND NOT (f.tag_ids && ARRAY[%(c)s]::bigint[])"""
ARRAY_PAGE = """SELECT f.id FROM bench_fan_tag_ids f WHERE f.shop_id = %(shop)s
  AND f.tag_ids @> ARRAY[%(a)s, %(b)s]::bigint[] AND NOT (f.tag_ids && ARRAY[%(c)s]::bigint[])
  ORDER BY f.joined_at DESC, f.id DESC LIMIT 50"""


def schema_comparison(database_url: str, shop, triples) -> dict[str, Any]:
    import psycopg

    from fans.crm.vocabulary import tags_resolve

    ids = [[t.pk for t in tags_resolve(shop, list(tr))] for tr in triples]
    with psycopg.connect(database_url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("DROP TABLE IF EXISTS bench_fan_tag_ids")
        conn.execute("""CREATE TABLE bench_fan_tag_ids AS
            SELECT f.id, f.shop_id, f.joined_at, COALESCE(t.tag_ids, '{}') AS tag_ids
            FROM fans_fan f LEFT JOIN (SELECT fan_id, array_agg(tag_id ORDER BY tag_id) AS tag_ids
                                       FROM fans_fantag GROUP BY fan_id) t ON t.fan_id = f.id""")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("ALTER TABLE bench_fan_tag_ids ADD PRIMARY KEY (id)")
        conn.execute("CREATE INDEX bench_fan_tag_ids_gin ON bench_fan_tag_ids USING gin (tag_ids)")
        conn.execute("CREATE INDEX bench_fan_tag_ids_shop_joined ON bench_fan_tag_ids (shop_id, joined_at)")
        conn.execute("VACUUM ANALYZE bench_fan_tag_ids")
        build_s = time.perf_counter() - t0
        # The jobs above rewrote 200k tag sets; vacuum them too, so both designs are compared as autovacuum keeps them.
        conn.execute("VACUUM ANALYZE fans_fantagset")
        sizes = conn.execute("""SELECT pg_size_pretty(pg_total_relation_size('fans_fantag')),
            pg_size_pretty(pg_relation_size('fantag_tag_fan')), pg_size_pretty(pg_relation_size('bench_fan_tag_ids_gin')),
            pg_size_pretty(pg_total_relation_size('bench_fan_tag_ids')),
            pg_size_pretty(pg_relation_size('fans_fantagset')), pg_size_pretty(pg_relation_size('fantagset_tags_gin')),
            pg_size_pretty(pg_relation_size('fantagset_shop_joined'))""").fetchone()

        def run(count_sql: str, page_sql: str) -> dict[str, Any]:
            for a, b, c in ids[:5]:
                conn.execute(count_sql, {"shop": shop.pk, "a": a, "b": b, "c": c}).fetchall()
            times = []
            for a, b, c in ids:
                params = {"shop": shop.pk, "a": a, "b": b, "c": c}
                t0 = time.perf_counter()
                conn.execute(count_sql, params).fetchall()
                conn.execute(page_sql, params).fetchall()
                times.append(ms(time.perf_counter() - t0))
            a, b, c = ids[0]
            params = {"shop": shop.pk, "a": a, "b": b, "c": c}
            explain = {
                "count": [
                    r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + count_sql, params).fetchall()
                ],
                "page": [
                    r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + page_sql, params).fetchall()
                ],
            }
            return {**summary(times), "runs_ms": times, "explain_analyze": explain}

        join = run(JOIN_COUNT, JOIN_PAGE)
        array = run(ARRAY_COUNT, ARRAY_PAGE)
        tag_set = run(TAG_SET_COUNT, TAG_SET_PAGE)
    return {
        "what": "count + first page of tags_all=A,B & tags_none=C as plain SQL over the same triples",
        "join_table": {
            "design": "fans_fantag(fan, tag) + btree (tag_id, fan_id); one EXISTS per tag",
            **join,
            "table_size": sizes[0],
            "tag_fan_index_size": sizes[1],
        },
        "tag_array_gin": {
            "design": "tag_ids bigint[] on the fan row + GIN (tag_ids); @> for all-of, && for none-of",
            **array,
            "gin_index_size": sizes[2],
            "table_size": sizes[3],
            "build_s": round(build_s, 1),
        },
        "tag_set_intarray": {
            "design": "what the app uses: fans_fantagset(fan, shop, joined_at, tags integer[]) + intarray GIN "
            "(fastupdate off) + btree (shop, joined_at, fan) INCLUDE (tags); @> / && / NOT &&",
            **tag_set,
            "table_size": sizes[4],
            "gin_index_size": sizes[5],
            "page_index_size": sizes[6],
        },
    }


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=1_000_000)
    parser.add_argument("--skip-seed", action="store_true", help="reuse the seeded bench database")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bulk-tag", default="campaign:new_year", help="the tag the bulk job adds")
    parser.add_argument("--import-tag", default="campaign:live_0618", help="the tag each import row adds")
    parser.add_argument(
        "--skip-comparison", action="store_true", help="skip the join table vs tag array runs"
    )
    parser.add_argument("--results-name", default="crm", help="bench/results/<name>.json")
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    if "bench" not in urlparse(database_url).path:
        raise SystemExit("DATABASE_URL must name a bench database (its name must contain 'bench').")
    started = time.monotonic()
    figures: dict[str, Any] = {"targets": TARGETS}
    setup: dict[str, Any] = {}
    if not args.skip_seed:
        t0 = time.monotonic()
        reset_database(database_url)
        import django

        django.setup()
        from django.core.management import call_command

        from bench import seed_scale

        call_command("migrate", verbosity=0)
        setup["migrate_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        call_command(seed_scale.Command(), fans=args.fans, shop_slug=SLUG, tags=60, seed=args.seed)
        setup["seed_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        vacuum_analyze(database_url)
        setup["vacuum_analyze_s"] = round(time.monotonic() - t0, 1)
        log(f"setup {setup}")
    else:
        import django

        django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from fans.chat.models import Fan
    from fans.crm.models import FanTag, Tag
    from shops.models import Shop, ShopMember

    shop = Shop.objects.get(slug=SLUG)
    member = ShopMember.objects.select_related("shop", "user").get(shop=shop, user=shop.owner)
    fans = Fan.objects.filter(shop=shop).count()
    figures["fans"] = fans
    figures["tags"] = (
        Tag.objects.filter(group__shop__isnull=True).count() + Tag.objects.filter(group__shop=shop).count()
    )
    figures["fan_tags"] = FanTag.objects.filter(fan__shop=shop).count()
    figures["setup"] = setup
    log(f"shop {shop.pk}: {fans} fans, {figures['tags']} tags, {figures['fan_tags']} fan tags")
    machine = machine_info(database_url=database_url, redis_url=os.environ["REDIS_URL"])
    print_machine(machine)

    rng = random.Random(args.seed)
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=shop.owner_id))
    triples = tag_triples(shop, args.runs, rng)

    log("segment query through GET /api/fans/ ...")
    seg = segment_queries(client, shop, triples)
    figures["segment_query_p95_ms"] = seg["p95_ms"]
    log(
        f"segment query p50 {seg['p50_ms']} ms, p95 {seg['p95_ms']} ms, matched {seg['matched_min']}..{seg['matched_max']}"
    )

    log("fan list render ...")
    page_client = APIClient()
    page_client.force_login(get_user_model().objects.get(pk=shop.owner_id))
    fan_list = fan_list_page(page_client, shop)
    figures["fan_list_render_ms"] = {
        "page_p95": fan_list["page"]["p95_ms"] if fan_list["page"] else None,
        "api_p95": fan_list["api"]["p95_ms"],
    }
    log(f"fan list {fan_list}")

    all_ids = list(Fan.objects.filter(shop=shop).values_list("pk", flat=True))
    rng.shuffle(all_ids)
    n_sel = min(N_SELECTED, len(all_ids) // 3)  # three disjoint selections (smaller on a small seed)
    bulk_ids, import_ids, export_ids = (sorted(all_ids[i * n_sel : (i + 1) * n_sel]) for i in range(3))

    log("bulk tag 100k ...")
    bulk = bulk_tag(member, bulk_ids, args.bulk_tag)
    figures["bulk_tag_100k_s"] = bulk["s"]
    log(f"bulk tag {bulk}")

    log("import 100k ...")
    data = build_import_csv(shop, import_ids, args.import_tag, rng)
    imp = import_csv(member, data)
    figures["import_100k_csv_s"] = imp["s"]
    log(f"import {imp}")

    log("export 100k ...")
    exp = export_csv(member, export_ids)
    figures["export_100k_csv_s"] = exp["s"]
    log(f"export {exp}")

    comparison = None
    if not args.skip_comparison:
        log("schema comparison ...")
        comparison = schema_comparison(database_url, shop, triples)
        log(
            f"join table p95 {comparison['join_table']['p95_ms']} ms; "
            f"tag array + GIN p95 {comparison['tag_array_gin']['p95_ms']} ms; "
            f"tag set + intarray p95 {comparison['tag_set_intarray']['p95_ms']} ms"
        )

    figures["pass"] = {k: (figures[k] is not None and figures[k] <= t) for k, t in TARGETS.items()}
    figures["ratio_to_target"] = {
        k: round(figures[k] / t, 3) for k, t in TARGETS.items() if figures[k] is not None
    }
    figures["details"] = {
        "segment_query": seg,
        "fan_list": fan_list,
        "bulk_tag": bulk,
        "import": imp,
        "export": exp,
    }
    figures["schema_comparison"] = comparison
    figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    figures["wall_s"] = round(time.monotonic() - started, 1)
    path = write_results(args.results_name, machine, figures)
    log(f"pass {figures['pass']}")
    log(f"ratio_to_target {figures['ratio_to_target']}")
    log(f"wrote {path} in {figures['wall_s']} s")


if __name__ == "__main__":
    main()
