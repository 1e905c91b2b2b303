"""红黑榜 bench: the board for a category with 100k ratings over 10k entities.

    python bench/ratings.py [--ratings 100000] [--entities 10000] [--shops 2000] [--runs 50]

Setup: drop and create the bench database (its name must contain "bench"), migrate, bulk-seed shops, products
(4 categories) and ratings (each product rated by random shops, 70% red), then the set-based refresh of
every score (shops.ratings.refresh_scores, timed as refresh_all_s). Then, through the real URLconf:

  board_p95_ms        GET /api/ratings/board/?entity_type=product&category=… (p95 over --runs, after warm-up)
  rate_p95_ms         POST /api/ratings/ (upsert + that entity's score refresh), p95 over --runs

Then, unless --skip-scorecards, it runs bench/ratings_scorecards.py in its own process and database
(1k factories, 1M order lines) and copies its `scorecards_1k_factories_s` in, so ratings.json carries both of
the issue's figures from one run.

Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/fansi_ratings_bench); the scorecards part uses
SCORECARDS_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/fansi_bench_scorecards). Writes
bench/results/ratings.json (and scorecards.json).
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fansi_ratings_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("FANSI_CHANNEL_PREFIX", "fansi_ratings_bench")
os.environ.setdefault("FANSI_CACHE_PREFIX", "fansi_ratings_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

from bench.common import machine_info, percentile, print_machine, reset_database, write_results  # noqa: E402

TARGETS = {"board_p95_ms": 50, "scorecards_1k_factories_s": 30}
CATEGORIES = ["beauty", "home", "fruit", "clothing"]
REASONS_RED = ["quality_good", "value_good", "fast_ship"]
REASONS_BLACK = ["quality_bad", "fake", "slow_ship", "bad_service", "overpriced"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ratings", type=int, default=100_000)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--shops", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--skip-scorecards", action="store_true", help="only the board (no 1M-line scorecards run)"
    )
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]
    if "bench" not in urlparse(database_url).path:
        raise SystemExit("DATABASE_URL must name a bench database (its name must contain 'bench').")
    reset_database(database_url)
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from shops.models import Product, Rating, Shop, ShopMember
    from shops.ratings import refresh_scores

    setup: dict[str, float] = {}
    t0 = time.monotonic()
    call_command("migrate", verbosity=0)
    setup["migrate_s"] = round(time.monotonic() - t0, 1)
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench-owner{i}", password="!") for i in range(args.shops)],
        batch_size=5000,
    )
    shops = Shop.objects.bulk_create(
        [Shop(name=f"店{i}", slug=f"bench-{i}", owner=u, invite_code=f"b{i}") for i, u in enumerate(users)],
        batch_size=5000,
    )
    ShopMember.objects.bulk_create(
        [ShopMember(shop=s, user=s.owner, role="owner") for s in shops], batch_size=5000
    )
    products = Product.objects.bulk_create(
        [
            Product(
                shop=shops[i % len(shops)], name=f"商品{i}", category=CATEGORIES[i % 4], price=Decimal("10")
            )
            for i in range(args.entities)
        ],
        batch_size=5000,
    )
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < args.ratings:
        pairs.add((rng.randrange(len(shops)), rng.randrange(len(products))))
    rows = []
    for s, p in pairs:
        red = rng.random() < 0.7
        product = products[p]
        rows.append(
            Rating(
                shop=shops[s], entity_type="product", entity_id=str(product.pk), category=product.category,
                verdict="red" if red else "black", reason=rng.choice(REASONS_RED if red else REASONS_BLACK),
                weight=1.0 + rng.random() * 2,
            )
        )  # fmt: skip
    Rating.objects.bulk_create(rows, batch_size=5000)
    setup["seed_s"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    refreshed = refresh_scores(None)
    setup["refresh_all_s"] = round(time.monotonic() - t0, 2)
    print(f"setup {setup}", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    client = APIClient()
    client.force_authenticate(users[0])
    for category in CATEGORIES:  # warm-up
        assert client.get(f"/api/ratings/board/?entity_type=product&category={category}").status_code == 200
    board_ms = []
    for i in range(args.runs):
        t = time.perf_counter()
        response = client.get(f"/api/ratings/board/?entity_type=product&category={CATEGORIES[i % 4]}")
        board_ms.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200 and len(response.json()) > 0
    rate_ms = []
    for _ in range(args.runs):
        product = products[rng.randrange(len(products))]
        body = {"entity_type": "product", "entity_id": product.pk, "verdict": "black", "reason": "fake"}
        t = time.perf_counter()
        response = client.post("/api/ratings/", body, format="json")
        rate_ms.append((time.perf_counter() - t) * 1000)
        assert response.status_code in (200, 201), response.content
    figures = {
        "targets": TARGETS,
        "size": {"ratings": len(rows), "entities": args.entities, "shops": args.shops, "scores": refreshed},
        "setup": setup,
        "board_p95_ms": round(percentile(board_ms, 95) or 0, 2),
        "board_p50_ms": round(percentile(board_ms, 50) or 0, 2),
        "rate_p95_ms": round(percentile(rate_ms, 95) or 0, 2),
        "refresh_all_s": setup["refresh_all_s"],
    }
    if not args.skip_scorecards:
        figures.update(scorecards_run())
    for name, ceiling in TARGETS.items():
        if name in figures:
            figures[f"{name}_ratio_to_ceiling"] = round(figures[name] / ceiling, 3)
    machine = machine_info(database_url=database_url)
    print_machine(machine)
    print(figures)
    write_results("ratings", machine, figures)


def scorecards_run() -> dict:
    """bench/ratings_scorecards.py in its own process (its own Django setup and database), read back."""
    import json
    import subprocess

    env = dict(os.environ)
    env["DATABASE_URL"] = os.environ.get(
        "SCORECARDS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fansi_bench_scorecards"
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ratings_scorecards.py")], cwd=ROOT, env=env, check=True
    )
    result = json.loads((ROOT / "bench" / "results" / "scorecards.json").read_text())
    return {
        "scorecards_1k_factories_s": result["scorecards_1k_factories_s"],
        "scorecards_size": {"factories": result["factories"], "order_lines": result["order_lines"]},
    }


if __name__ == "__main__":
    main()
