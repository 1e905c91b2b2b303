"""fans_for_product before and after (issue 15), in one process, interleaved.

    python bench/recommend_likely_fans.py   # after bench/recommend.py (uses its database and model)

Loads the previous implementation from git (commit BEFORE: product_fans.py and live_text.py) beside the
current one, checks both list the same fans in the same order with the same scores and reasons for 30
products, and times 60 calls of each (wall and this process's CPU).
Writes bench/results/recommend_likely_fans.json.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fansi_recommend_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
os.environ.setdefault("FANSI_CACHE_PREFIX", "fansi_recommend_bench")
os.environ.setdefault("FANSI_RECOMMEND_DIR", "/tmp/fansi_recommend_bench_models")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["DJANGO_DEBUG"] = "0"

from bench.common import machine_info, percentile, print_machine, write_results  # noqa: E402

# Main before the single-statement product state and batched live text (the cached fan blocks were 6e5d199).
BEFORE = "bb1f00d"


def _load_before(path: str, name: str):  # noqa: ANN202
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tempfile.NamedTemporaryFile(suffix=".py", delete=False) as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, fh.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    machine = machine_info(database_url=os.environ["DATABASE_URL"], redis_url=os.environ["REDIS_URL"])
    print_machine(machine)
    import django

    django.setup()
    from recommend.serving import fans_for_product, serving_model
    from shops.models import Product

    before = _load_before("recommend/serving/product_fans.py", "recommend.serving.product_fans_before")
    old_text = _load_before("recommend/serving/live_text.py", "recommend.serving.live_text_before")
    model = serving_model()
    # The previous live text path (one TF-IDF transform per talker), with its own cached LiveText.
    old_live = old_text.live_text(model)
    model.extensions.pop("live_text", None)
    before.live_text = lambda _model: old_live
    products = list(Product.objects.order_by("pk")[::170][:30])
    calls = {"after": fans_for_product, "before": before.fans_for_product}
    for f in calls.values():
        f(products[0], 50)  # warm-up: loads the model and (after) builds the shop's fan blocks
    timings = {name: ([], []) for name in calls}
    same = 0
    for _ in range(2):
        for product in products:
            lists = {}
            for name, f in calls.items():
                t0, c0 = time.perf_counter(), time.process_time()
                lists[name] = [(p.fan.pk, round(p.score, 5), p.reason.as_dict()) for p in f(product, 50)]
                timings[name][0].append((time.perf_counter() - t0) * 1000)
                timings[name][1].append((time.process_time() - c0) * 1000)
            same += lists["after"] == lists["before"]
    figures = {
        "fans": int(len(model.artifacts.user_pks)),
        "calls_each": len(timings["after"][0]),
        "same_order": f"{same} of {len(timings['after'][0])}",
        **{
            name: {
                "p50_ms": round(percentile(wall, 50), 2),
                "p99_ms": round(percentile(wall, 99), 2),
                "cpu_p50_ms": round(percentile(cpu, 50), 2),
                "cpu_p99_ms": round(percentile(cpu, 99), 2),
            }
            for name, (wall, cpu) in timings.items()
        },
        "notes": [
            f"2 cores shared with other engineers' jobs; load average at end {[round(x, 2) for x in os.getloadavg()]}",
            "CPU is this process only (PostgreSQL's share not included); wall above CPU is waiting for a core",
        ],
    }
    figures["cpu_p50_ratio"] = round(figures["after"]["cpu_p50_ms"] / figures["before"]["cpu_p50_ms"], 3)
    print(figures)
    write_results("recommend_likely_fans", machine, figures)


if __name__ == "__main__":
    main()
