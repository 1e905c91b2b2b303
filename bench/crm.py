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

This file seeds and reports; the measurements are in bench/crm_measure.py, the schema comparison in
bench/crm_schema.py.

Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/fansi_crm_bench), REDIS_URL (default
redis://127.0.0.1:6379/7). Writes bench/results/crm.json.
"""

import argparse
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

from bench.common import machine_info, print_machine, reset_database, write_results  # noqa: E402
from bench.crm_measure import (  # noqa: E402
    build_import_csv,
    bulk_tag,
    export_csv,
    fan_list_page,
    import_csv,
    segment_queries,
    tag_triples,
)
from bench.crm_schema import schema_comparison  # noqa: E402

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
