"""Recommendation bench: train from a seeded database and measure serving latency.

    python bench/recommend.py [--fans 100000] [--products 5000] [--interactions 1000000] [--chat-fans 20000]
    python bench/recommend.py --serve-only   # serving figures again, on the last run's database and version

Seeds DATABASE_URL (default postgres://postgres@127.0.0.1:5432/fansi_recommend_bench; dropped and
recreated) with one shop, `--fans` fans with 4 tags each from a 60-tag vocabulary (34 platform tags and a
26-tag private shop group), `--products` products with tags, and about `--interactions` pledges/clicks where
tags matter (half of each fan's items share their skin type), and `--chat-fans` fans with history who chatted
(bench/recommend_chat_seed.py: 3 fan-sent messages each, the skin type said in most). Then runs the real training path
(recommend.services.model_train: bounded evaluation, fit on all data, artifacts, switch) and measures:

  fit_s             seconds to fit the served rankers on all data (target <= 60)
  p99_ms            recommend_for_fan(fan, 10) latency over --calls random fans, real DB (target <= 20)
  queries_per_call  most database statements of one recommend_for_fan call (50 of the measured fans, warm)
  batch_all_fans_s  every fan's top-10 from the factor tables (owned products excluded)

Then every candidate ranker is fitted on all the data, one after the other in this process (issue 15: the
cost target holds "with every candidate", not only for what validation chose to serve):

  candidates.<name>.fit_s        seconds to fit it on all fans x products x interactions
  candidates.<name>.artifact_mb  its factor tables on disk (arrays.npz), as serving loads them
  candidates.<name>.rss_mb       the process's resident memory after fitting it; peak_rss_mb the peak so far
  candidates.<name>.warm_p50_ms / warm_p99_ms  recommend_for_fan latency with it serving warm fans (the
                                 real path: its own model version, switched to, loaded from disk)
  candidates_fit_total_s         the sum over candidates (target <= 60)
  regimes.<regime>.p50_ms/p99_ms the served model per regime: warm fans, fans new since training with tags
                                 (cold_users) and without (unknown), new fans who chat after training
                                 (new_talkers: live text), and fans_for_product (cold_items, with CPU)

The candidates: popularity, tag_popularity, content, LightFM (the hybrid of the large-data grid), EASE,
item-kNN and ALS (the first point of each validation grid, as used on large data).

Writes bench/results/recommend.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fansi_recommend_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
os.environ.setdefault("FANSI_CHANNEL_PREFIX", "fansi_recommend_bench")
os.environ.setdefault("FANSI_CACHE_PREFIX", "fansi_recommend_bench")
os.environ.setdefault("FANSI_MEDIA_ROOT", "/tmp/fansi_recommend_bench_media")
os.environ.setdefault("FANSI_RECOMMEND_DIR", "/tmp/fansi_recommend_bench_models")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["DJANGO_DEBUG"] = "0"

from bench.common import machine_info, percentile, print_machine, reset_database, write_results  # noqa: E402

TARGETS = {"fit_s": 60.0, "p99_ms": 20.0, "candidates_fit_total_s": 60.0}


def log(msg: str) -> None:
    print(f"[recommend {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def seed(n_fans: int, n_products: int, n_interactions: int) -> dict[str, float]:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from fans.chat.models import Fan
    from fans.crm.models import Tag, TagGroup
    from shops.models import Product, Shop, ShopMember

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    User = get_user_model()
    owner = User.objects.create_user("bench-owner", password="x")
    shop = Shop.objects.create(name="Bench", slug="bench", owner=owner)
    ShopMember.objects.create(shop=shop, user=owner, role="owner")
    style = TagGroup.objects.create(shop=shop, code="style", name_zh="风格", name_en="Style")
    Tag.objects.bulk_create(
        Tag(group=style, code=f"s{n}", name_zh=f"风格{n}", name_en=f"Style {n}") for n in range(26)
    )
    tags = list(
        Tag.objects.select_related("group").filter(group__shop__isnull=True) | Tag.objects.filter(group=style)
    )
    by_group: dict[str, list] = {}
    for tag in tags:
        by_group.setdefault(tag.group.code, []).append(tag)
    log(f"vocabulary: {len(tags)} tags")

    User.objects.bulk_create(
        (User(username=f"bf{n}", password="!") for n in range(n_fans)), batch_size=10_000
    )
    user_ids = list(
        User.objects.filter(username__startswith="bf").order_by("pk").values_list("pk", flat=True)
    )
    Fan.objects.bulk_create(
        (Fan(shop=shop, user_id=u, display_name=f"粉丝{n}") for n, u in enumerate(user_ids)),
        batch_size=10_000,
    )
    fan_ids = np.array(Fan.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    log(f"{len(fan_ids)} fans in {time.perf_counter() - started:.1f} s")

    categories = ["beauty", "home", "fruit", "clothing"]
    skin = by_group["skin_type"]
    products = []
    product_skin = rng.integers(0, len(skin), size=n_products)
    for n in range(n_products):
        category = categories[n % 4]
        desc = f"适合{skin[product_skin[n]].name_zh}" if category == "beauty" else ""
        products.append(
            Product(
                shop=shop,
                name=f"商品{n}",
                category=category,
                brand=f"b{n % 50}",
                description=desc,
                price=10 + (n * 37) % 600,
            )
        )
    Product.objects.bulk_create(products, batch_size=5000)
    product_ids = np.array(Product.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    from recommend.services import product_tags_derive

    product_tags_derive()

    # Fan tags: a skin type, a preference, and two tags from the multi-choice groups.
    fan_skin = rng.integers(0, len(skin), size=n_fans)
    pref = by_group["preference"]
    multi = by_group["skin_concern"] + by_group["household"] + by_group["fruit_taste"] + by_group["style"]
    rows = []
    for n, fan in enumerate(fan_ids.tolist()):
        rows.append((fan, skin[fan_skin[n]], True))
        rows.append((fan, pref[n % 2], True))
        for t in rng.choice(len(multi), size=2, replace=False):
            rows.append((fan, multi[t], False))
    with transaction.atomic(), connection.cursor() as cur:
        with cur.cursor.copy(
            "COPY fans_fantag (fan_id, tag_id, group_id, single, source, created_at) FROM STDIN"
        ) as copy:
            copy.write(
                "".join(
                    f"{f}\t{t.pk}\t{t.group_id}\t{'t' if s else 'f'}\timport\t2025-01-01 00:00:00+00\n"
                    for f, t, s in rows
                )
            )
        # Fan.tag_ids mirrors FanTag (fans.services.tagging); serving reads it, so the COPY must fill it too.
        cur.execute(
            "UPDATE fans_fan f SET tag_ids = COALESCE((SELECT jsonb_agg(ft.tag_id ORDER BY ft.tag_id) "
            "FROM fans_fantag ft WHERE ft.fan_id = f.id), '[]'::jsonb) WHERE f.shop_id = %s",
            [shop.pk],
        )
    log(f"{len(rows)} fan tags")

    # Interactions: half by popularity (Zipf), half among beauty products of the fan's skin type.
    per_fan = np.clip(
        rng.lognormal(np.log(n_interactions / n_fans) - 0.18, 0.6, size=n_fans).round(), 1, 200
    ).astype(int)
    pop = 1.0 / np.arange(1, n_products + 1) ** 0.9
    pop = rng.permutation(pop / pop.sum())
    beauty = np.arange(n_products) % 4 == 0
    pools = [np.flatnonzero(beauty & (product_skin == s)) for s in range(len(skin))]
    fans_rep = np.repeat(np.arange(n_fans), per_fan)
    by_pop = rng.choice(n_products, size=len(fans_rep), p=pop)
    skin_rep = fan_skin[fans_rep]
    by_tag = (
        np.array([pools[s][rng.integers(0, len(pools[s]))] for s in skin_rep]) if len(fans_rep) else by_pop
    )
    items = np.where(rng.random(len(fans_rep)) < 0.5, by_tag, by_pop)
    pairs = np.unique(fans_rep.astype(np.int64) * n_products + items)
    fan_idx, item_idx = pairs // n_products, pairs % n_products
    kinds = np.where(rng.random(len(pairs)) < 0.7, "pledge", "card_click")
    weights = np.where(kinds == "pledge", "3", "0.5")
    with transaction.atomic(), connection.cursor() as cur:
        with cur.cursor.copy(
            "COPY recommend_interaction (shop_id, fan_id, product_id, kind, weight, key, created_at) FROM STDIN"
        ) as copy:
            chunk = 200_000
            for start in range(0, len(pairs), chunk):
                sl = slice(start, start + chunk)
                copy.write(
                    "".join(
                        f"{shop.pk}\t{f}\t{p}\t{k}\t{w}\t\t2025-01-01 00:00:00+00\n"
                        for f, p, k, w in zip(
                            fan_ids[fan_idx[sl]].tolist(),
                            product_ids[item_idx[sl]].tolist(),
                            kinds[sl].tolist(),
                            weights[sl].tolist(),
                            strict=True,
                        )
                    )
                )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    log(f"{len(pairs)} interactions; seeded in {time.perf_counter() - started:.1f} s")
    return {
        "seed_s": round(time.perf_counter() - started, 1),
        "fan_tags": len(rows),
        "interactions": int(len(pairs)),
    }


def batch_all_fans(k: int = 10) -> float:
    """Every fan's top-k from the serving model's factor tables, owned products excluded."""
    import numpy as np
    import scipy.sparse as sp

    from recommend.models import STRONG_KINDS, Interaction
    from recommend.serving import serving_model

    model = serving_model()
    started = time.perf_counter()
    arts = model.artifacts
    item_pos = {int(pk): n for n, pk in enumerate(arts.item_pks)}
    user_pos = {int(pk): n for n, pk in enumerate(arts.user_pks)}
    rows = np.array(
        list(Interaction.objects.filter(kind__in=STRONG_KINDS).values_list("fan_id", "product_id"))
    )
    owned = sp.csr_matrix(
        (
            np.ones(len(rows), dtype=bool),
            ([user_pos[f] for f in rows[:, 0]], [item_pos[p] for p in rows[:, 1]]),
        ),
        shape=(len(arts.user_pks), len(arts.item_pks)),
    )
    warm_parts, _ = model.regime("warm_users")
    cold_parts, _ = model.regime("cold_users")
    for start in range(0, len(arts.user_pks), 4096):
        users = np.arange(start, min(start + 4096, len(arts.user_pks)))
        known = arts.known_users[users]
        scores = np.zeros((len(users), len(arts.item_pks)), dtype=np.float32)
        for parts, mask in ((warm_parts, known), (cold_parts, ~known)):
            if mask.any():
                for p in parts:
                    u = users[mask]
                    scores[mask] += p.scale * (p.U[u] @ p.V.T + p.ub[u][:, None] + p.ib[None, :])
        block = owned[users]
        scores[block.nonzero()] = -np.inf
        np.argpartition(-scores, k, axis=1)[:, :k]
    return time.perf_counter() - started


def cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB."""
    current = peak = 0.0
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return round(current, 1), round(peak, 1)


def timed_calls(fans: list, k: int = 10) -> tuple[list[float], dict[str, int]]:
    from recommend.serving import recommend_for_fan

    recommend_for_fan(fans[0], k)  # warm-up: loads the model and builds the shop's candidates
    latencies, regimes = [], {}
    for fan in fans:
        t0 = time.perf_counter()
        picks = recommend_for_fan(fan, k)
        latencies.append((time.perf_counter() - t0) * 1000)
        if picks:
            regimes[picks[0].regime] = regimes.get(picks[0].regime, 0) + 1
    return latencies, regimes


def latency(latencies: list[float]) -> dict[str, float]:
    return {
        "calls": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
    }


def new_fans(n_tagged: int, n_plain: int) -> tuple[list, list]:
    """Fans who joined after training: some with tags (served as cold_users), some with none (unknown)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from fans.chat.models import Fan
    from fans.crm.models import FanTag, Tag
    from shops.models import Shop

    User = get_user_model()
    shop = Shop.objects.get(slug="bench")
    run = int(time.time())  # --reuse keeps the last run's new fans: fresh names each run
    users = User.objects.bulk_create(
        User(username=f"bnew{run}-{n}", password="!") for n in range(n_tagged + n_plain)
    )
    fans = Fan.objects.bulk_create(
        Fan(shop=shop, user=u, display_name=f"新粉丝{n}") for n, u in enumerate(users)
    )
    skin = list(Tag.objects.filter(group__code="skin_type", group__shop__isnull=True))
    FanTag.objects.bulk_create(
        FanTag(
            fan=f,
            tag=skin[n % len(skin)],
            group_id=skin[n % len(skin)].group_id,
            single=True,
            source="import",
        )
        for n, f in enumerate(fans[:n_tagged])
    )
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE fans_fan f SET tag_ids = COALESCE((SELECT jsonb_agg(ft.tag_id ORDER BY ft.tag_id) "
            "FROM fans_fantag ft WHERE ft.fan_id = f.id), '[]'::jsonb) WHERE f.id = ANY(%s)",
            [[f.pk for f in fans]],
        )
    return fans[:n_tagged], fans[n_tagged:]


def fit_every_candidate(warm_fans: list, calls: int, threads: int) -> dict:
    """Fit each candidate on all the data; serve warm fans from each through its own model version."""
    from dataclasses import replace

    import numpy as np

    from recommend.data import build_train_set
    from recommend.evaluation import RankerSpec, build_ranker
    from recommend.evaluation.specs import COLLABORATIVE, collaborative_grid, lightfm_grid
    from recommend.models import ModelVersion
    from recommend.selectors import catalog_from_db
    from recommend.services import model_switch
    from recommend.services.versions import _new_version_name
    from recommend.serving import serving_reset
    from recommend.training import Artifacts, artifacts_dir, artifacts_write, factorize

    started = time.perf_counter()
    db = catalog_from_db()
    train = build_train_set(db.catalog, db.catalog.interactions)
    log(f"catalogue for the candidates: {train.n_users} fans, {train.n_items} products, {train.nnz} interactions "
        f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
    (hybrid,), epochs = lightfm_grid("warm_users", features=True, size="tiny")
    specs = [
        RankerSpec("popularity"),
        RankerSpec("tag_popularity"),
        RankerSpec("content"),
        RankerSpec("lightfm", replace(hybrid, epochs=max(epochs))),
        *(collaborative_grid(kind, size="tiny")[0] for kind in COLLABORATIVE),
    ]
    fitted = {}
    out: dict[str, dict] = {}
    for spec in specs:
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        ranker = build_ranker(spec, train, num_threads=threads)
        fit_s, fit_cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        fitted[spec] = ranker
        current, peak = rss_mb()
        out[spec.name] = {
            # CPU seconds over every thread: on a shared machine wall seconds also count other work.
            "fit_cpu_s": round(fit_cpu, 2),
            # CPU over wall: about 2 when both cores worked for it (LightFM's OpenMP, implicit's threads).
            "cpu_per_wall": round(fit_cpu / fit_s, 2) if fit_s > 0.5 else None,
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "recipe": spec.describe(),
            "fit_s": round(fit_s, 2),
            "rss_mb": current,
            "peak_rss_mb": peak,
        }
        log(f"  fitted {spec.describe()}: {fit_s:.1f} s, rss {current} MB (peak {peak} MB)")
    popularity, tags = fitted[specs[0]], fitted[specs[1]]
    base_parts = {"pop": factorize(popularity, train), "tp": factorize(tags, train)}
    for spec in specs:
        name = spec.name
        version = ModelVersion.objects.create(version=_new_version_name() + f"-{name}")
        t0 = time.perf_counter()
        parts = factorize(fitted[spec], train)
        path = artifacts_write(
            Artifacts(
                version=version.version,
                user_pks=db.fan_pks,
                user_shops=db.fan_shops,
                known_users=np.asarray(train.known_users, dtype=bool),
                item_pks=db.product_pks,
                item_shops=db.product_shops,
                user_vocab=list(train.user_vocab),
                item_vocab=list(train.item_vocab),
                models={"c": parts, **base_parts},
                regimes={
                    "warm_users": {"model": "c", "name": name, "recipe": spec.describe()},
                    "cold_users": {"model": "tp", "name": "tag_popularity", "recipe": "tag_popularity"},
                    "cold_items": {"model": "pop", "name": "popularity", "recipe": "popularity"},
                    "unknown": {"model": "pop", "name": "popularity", "recipe": "popularity"},
                    "explain": {"model": "tp", "name": "tag_popularity", "recipe": ""},
                },
            ),
            artifacts_dir(),
        )
        export_s = time.perf_counter() - t0
        model_switch(version_id=version.pk, path_checked=str(path))
        serving_reset()
        t0 = time.perf_counter()
        latencies, regimes = timed_calls(warm_fans[:calls])
        load_and_first_s = time.perf_counter() - t0 - sum(latencies) / 1000
        size = sum(p.stat().st_size for p in Path(path).iterdir())
        base_size = sum(
            sum(getattr(part, a).nbytes for a in ("U", "ub", "V", "ib", "UF", "ubf", "VF", "ibf")
                if not hasattr(getattr(part, a), "indptr"))
            for parts_ in base_parts.values() for part in parts_
        )  # fmt: skip
        stats = latency(latencies)
        current, peak = rss_mb()
        out[name].update(
            artifact_mb=round(size / 2**20, 1),
            artifact_mb_without_shared_baselines=round(max(size - base_size, 0) / 2**20, 1),
            export_s=round(export_s, 2),
            load_and_first_call_s=round(load_and_first_s, 2),
            warm_p50_ms=stats["p50_ms"],
            warm_p99_ms=stats["p99_ms"],
            warm_max_ms=stats["max_ms"],
            warm_calls=stats["calls"],
            served_regimes=regimes,
            rss_mb_serving=current,
            peak_rss_mb=peak,
        )
        log(
            f"  served {name}: p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms, artifact {out[name]['artifact_mb']} MB"
        )
        import shutil

        shutil.rmtree(path, ignore_errors=True)  # 100 MB each for EASE and item-kNN: keep the disk tidy
    return out


def threads_note(candidates: dict) -> str:
    """How parallel each multi-threaded fit was (CPU seconds over wall seconds, in this run)."""
    parts = [
        f"{name} {c['fit_cpu_s']} CPU s / {c['fit_s']} s"
        for name, c in candidates.items()
        if c.get("cpu_per_wall")
    ]
    return (
        "fitted with 2 threads; "
        + ", ".join(parts)
        + ": CPU near 2x wall means both cores worked, near 1x that "
        "other jobs held one of them"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fans", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database of the last run")
    parser.add_argument(
        "--chat-fans",
        type=int,
        default=20_000,
        help="fans with history who chat (bench/recommend_chat_seed.py)",
    )
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="measure serving on the last run's serving version (training code unchanged): no seeding, no "
        "training; fit figures from that version, candidates copied from bench/results/recommend.json",
    )
    args = parser.parse_args()
    args.reuse = args.reuse or args.serve_only
    database_url = os.environ["DATABASE_URL"]
    machine = machine_info(database_url=database_url, redis_url=os.environ["REDIS_URL"])
    print_machine(machine)
    if not args.reuse:
        reset_database(database_url)

    import django

    django.setup()
    import numpy as np
    from django.core.management import call_command

    if args.reuse:
        from fans.crm.models import FanTag
        from recommend.models import Interaction, ModelVersion

        if not args.serve_only:
            ModelVersion.objects.all().delete()
        seeded = {
            "seed_s": None,
            "fan_tags": FanTag.objects.count(),
            "interactions": Interaction.objects.count(),
        }
    else:
        call_command("migrate", verbosity=0)
        seeded = seed(args.fans, args.products, args.interactions)
    from bench.recommend_chat_seed import seed_chat
    from fans.chat.models import Message

    if not Message.objects.exists() and args.chat_fans:
        # What fans said before training: text features, and the chat_users regime when text wins validation.
        from fans.chat.models import Fan as SeedFan

        pool = list(SeedFan.objects.order_by("pk").values_list("pk", flat=True))
        talkers = np.random.default_rng(2).choice(pool, size=min(args.chat_fans, len(pool)), replace=False)
        log(f"chat: {seed_chat(sorted(talkers.tolist()))} messages from {len(talkers)} fans")
    seeded["chat_messages"] = Message.objects.count()

    from fans.chat.models import Fan
    from recommend.models import ModelVersion
    from recommend.services import TrainOptions, model_train
    from recommend.services.versions import _new_version_name
    from recommend.serving import recommend_for_fan, serving_model, serving_reset

    if args.serve_only:
        version = ModelVersion.objects.get(is_serving=True)
        log(f"serving {version.version} (trained by the last run)")
    else:
        log("training (bounded evaluation, then the served rankers on all data)")
        version = ModelVersion.objects.create(version=_new_version_name())
        version = model_train(version_id=version.pk, options=TrainOptions(num_threads=2))
    if version.status != "ready":
        raise SystemExit(version.error)
    log(f"trained {version.version}: fit {version.fit_seconds} s, total {version.duration_seconds} s")
    for regime, served in version.served.items():
        log(f"  {regime}: {served['recipe']}")

    serving_reset()
    load_started = time.perf_counter()
    serving_model()
    load_s = time.perf_counter() - load_started
    rng = np.random.default_rng(1)
    fan_ids = list(Fan.objects.values_list("pk", flat=True))
    fans = list(
        Fan.objects.only("pk", "shop_id").filter(
            pk__in=rng.choice(fan_ids, size=args.calls, replace=False).tolist()
        )
    )
    recommend_for_fan(fans[0], 10)  # warm-up
    latencies, regimes = [], {}
    for fan in fans:
        t0 = time.perf_counter()
        picks = recommend_for_fan(fan, 10)
        latencies.append((time.perf_counter() - t0) * 1000)
        if picks:
            regimes[picks[0].regime] = regimes.get(picks[0].regime, 0) + 1
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    per_call = []
    for fan in fans[:50]:  # counted apart from the timed loop: recording queries has a cost of its own
        with CaptureQueriesContext(connection) as queries:
            recommend_for_fan(fan, 10)
        per_call.append(len(queries.captured_queries))
    batch_s = batch_all_fans()

    # Per regime, the served model: warm fans (above), fans new since training with tags and without, and
    # fans for a product (the cold-items ranker over every fan of the shop).
    from recommend.serving import fans_for_product
    from shops.models import Product

    per_regime = {
        "warm_users": {**latency(latencies), "served": version.served.get("warm_users", {}).get("name")}
    }
    tagged, plain = new_fans(400, 200)
    # Half the tagged newcomers chat after training: read live (recommend.serving.live_text), served as
    # chat_users when the version serves it, and among the shop's recent talkers for fans_for_product.
    talking, tagged = tagged[:200], tagged[200:]
    seed_chat([f.pk for f in talking], seed=3)
    for regime, group in (("cold_users", tagged), ("unknown", plain), ("new_talkers", talking)):
        lat, seen = timed_calls(group)
        per_regime[regime] = {**latency(lat), "call_regimes": seen}
    products = list(Product.objects.order_by("?")[:30])
    fans_for_product(products[0], 50)
    lat, cpu = [], []
    for product in products:
        t0, c0 = time.perf_counter(), time.process_time()
        fans_for_product(product, 50)
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    # CPU milliseconds of this process per call (PostgreSQL's share not included): wall far above CPU on a
    # busy machine is waiting for a core, not work.
    per_regime["cold_items"] = {
        **latency(lat),
        "cpu_p50_ms": round(percentile(cpu, 50), 3),
        "cpu_p99_ms": round(percentile(cpu, 99), 3),
        "call": "fans_for_product(product, 50)",
    }
    for regime, stats in per_regime.items():
        log(f"  {regime}: p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms")
    served_version = version

    serve_only_notes = []
    if args.serve_only:
        import json

        previous = json.loads((ROOT / "bench" / "results" / "recommend.json").read_text(encoding="utf-8"))
        candidates = previous["candidates"]
        serve_only_notes.append(
            f"--serve-only: serving re-measured on version {version.version} (trained "
            f"{version.created_at:%Y-%m-%d %H:%M} UTC by the previous run, same training code); fit and "
            "candidates figures are that run's "
            f"(git {previous['machine'].get('git_commit', '')[:7]}), not re-fitted"
        )
    else:
        log("fitting every candidate on all data")
        candidates = fit_every_candidate(fans, min(args.calls, 500), threads=2)
    total_fit = round(sum(c["fit_s"] for c in candidates.values()), 2)
    log(f"every candidate: {total_fit} s of fitting")
    # Leave the trained model serving, as the bench found it.
    from recommend.services import model_switch

    if not args.serve_only:
        model_switch(version_id=served_version.pk)
    worst_p99 = max(
        [stats["p99_ms"] for regime, stats in per_regime.items() if regime != "cold_items"]
        + [c["warm_p99_ms"] for c in candidates.values()]
    )
    figures = {
        "fans": args.fans,
        "products": args.products,
        "interactions": seeded["interactions"],
        "tags": 60,
        "fan_tags": seeded["fan_tags"],
        "chat_messages": seeded["chat_messages"],
        "seed_s": seeded["seed_s"],
        "fit_s": version.fit_seconds,
        "train_total_s": version.duration_seconds,
        "served": {r: s["recipe"] for r, s in version.served.items()},
        "metrics": version.metrics,
        "notes": [
            *version.notes,
            *serve_only_notes,
            f"machine: {os.cpu_count()} cores shared with other engineers' jobs; load average at start "
            f"{machine.get('load_average')}, at end {[round(x, 2) for x in os.getloadavg()]}",
            f"fit threads: {threads_note(candidates)}",
        ],
        "model_load_s": round(load_s, 3),
        "calls": len(latencies),
        "call_regimes": regimes,
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
        "queries_per_call": max(per_call),
        "batch_all_fans_s": round(batch_s, 2),
        "regimes": per_regime,
        "candidates": candidates,
        "candidates_fit_total_s": total_fit,
        "candidates_fit_total_cpu_s": round(sum(c["fit_cpu_s"] for c in candidates.values()), 2),
        "worst_recommend_for_fan_p99_ms": worst_p99,
        "peak_rss_mb": rss_mb()[1],
        "ratio_to_target": {
            "fit_s": round(version.fit_seconds / TARGETS["fit_s"], 3),
            "candidates_fit_total_s": round(total_fit / TARGETS["candidates_fit_total_s"], 3),
            "p99_ms": round(percentile(latencies, 99) / TARGETS["p99_ms"], 3),
            "worst_recommend_for_fan_p99_ms": round(worst_p99 / TARGETS["p99_ms"], 3),
            **{f"{name}.fit_s": round(c["fit_s"] / TARGETS["fit_s"], 3) for name, c in candidates.items()},
            **{
                f"{name}.warm_p99_ms": round(c["warm_p99_ms"] / TARGETS["p99_ms"], 3)
                for name, c in candidates.items()
            },
        },
        "targets": TARGETS,
        "load_avg_1m_at_end": os.getloadavg()[0],
    }
    path = write_results("recommend", machine, figures)
    log(
        f"fit_s={figures['fit_s']} p99_ms={figures['p99_ms']} batch_all_fans_s={figures['batch_all_fans_s']} -> {path}"
    )


if __name__ == "__main__":
    main()
