"""AQ 预判 bench: replay a seeded synthetic campaign history and score the forecast against what happened.

    python bench/forecast.py [--shops 6] [--campaigns 9] [--seed 14]

Setup: drop and create the bench database (its name must contain "bench"), migrate, then seed shops whose
fans join over a year, each fan with a skin-type tag (肤质) and a hidden appetite for campaigns. Every shop
runs campaigns in turn (one every 3 weeks, 10 days long) offering 2-3 of three beauty variants whose choice
depends on the fan's skin type; each campaign has its own appeal (a Gamma multiplier), and pledges are 1-3
units. Nothing of the hidden parameters is visible to the forecast.

Replay, chronologically: for each campaign, c2m.forecast.services.campaign_forecast(campaign, as_of=launch)
reads only campaigns finished before that launch (the same code the API and the snapshot use), and each
offered variant's forecast is compared with its actual pledged units.

  mape / coverage_80               the model: mean absolute % error per variant (actual > 0), and the share
                                   of actuals inside the 80% interval
  naive_mape / naive_coverage_80   baseline: the shop's last finished campaign's total units, split by that
                                   campaign's share per variant name (uniform if no name recurs); interval:
                                   the Poisson's 10th-90th percentile around it
Both are scored on the same campaigns: those with a finished campaign of the same shop before them.

Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/fansi_forecast_bench). Writes
bench/results/forecast.json.
"""

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fansi_forecast_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("FANSI_CHANNEL_PREFIX", "fansi_forecast_bench")
os.environ.setdefault("FANSI_CACHE_PREFIX", "fansi_forecast_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from bench.common import machine_info, print_machine, reset_database, write_results  # noqa: E402

VARIANTS = ["清爽型", "滋润型", "均衡型"]  # for oily, dry, and combination/normal skin
SKIN = ["oily", "dry", "combination", "normal"]
# P(variant | skin type) among all three; renormalised over what a campaign offers.
CHOICE = {
    "oily": [0.75, 0.05, 0.20],
    "dry": [0.05, 0.75, 0.20],
    "combination": [0.25, 0.20, 0.55],
    "normal": [0.20, 0.25, 0.55],
}
QUANTITIES = [1] * 7 + [2] * 2 + [3]


def naive_forecast(last: dict[str, int] | None, names: list[str]) -> list[float] | None:
    """The last finished campaign's total, split by its share per variant name."""
    if last is None:
        return None
    total = sum(last.values())
    overlap = {n: last.get(n, 0) for n in names}
    weight = sum(overlap.values())
    if weight == 0:
        return [total / len(names)] * len(names)
    return [total * overlap[n] / weight for n in names]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=6)
    parser.add_argument("--campaigns", type=int, default=9)
    parser.add_argument("--seed", type=int, default=14)
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
    from django.utils import timezone

    from c2m.forecast import model
    from c2m.forecast.services import campaign_forecast
    from fans.chat.models import Fan
    from fans.crm.models import Tag
    from preorders.models import Campaign, CampaignStatus, Pledge, PledgeStatus
    from shops.models import Product, Shop, ShopMember, Variant

    t0 = time.monotonic()
    call_command("migrate", verbosity=0)
    setup = {"migrate_s": round(time.monotonic() - t0, 1)}
    t0 = time.monotonic()
    rng = random.Random(args.seed)
    tags = {
        t.code: t.pk
        for t in Tag.objects.filter(group__code="skin_type", group__shop__isnull=True, code__in=SKIN)
    }
    User = get_user_model()
    start = timezone.now() - dt.timedelta(days=21 * args.campaigns + 400)
    shop_rows = []
    for s in range(args.shops):
        owner = User.objects.create(username=f"fc-owner{s}", password="!")
        shop = Shop.objects.create(name=f"预判店{s}", slug=f"fc-bench-{s}", owner=owner, invite_code=f"fc{s}")
        ShopMember.objects.create(shop=shop, user=owner, role="owner")
        n_fans = rng.randint(400, 1200)
        mix = [rng.random() + 0.3 for _ in SKIN]  # each shop's own skin-type mix
        appetite_mean = rng.uniform(0.06, 0.2)
        users = User.objects.bulk_create(
            [User(username=f"fc-fan{s}-{i}", password="!") for i in range(n_fans)], batch_size=2000
        )
        fans, hidden = [], {}
        for i, u in enumerate(users):
            skin = rng.choices(SKIN, weights=mix)[0]
            # 60% are there from the start; the rest join while the shop runs its campaigns.
            joined = start + dt.timedelta(
                days=rng.uniform(0, 30) if rng.random() < 0.6 else rng.uniform(30, 400)
            )
            fans.append(
                Fan(shop=shop, user=u, display_name=f"粉丝{i}", tag_ids=[tags[skin]], joined_via="invite")
            )
            hidden[i] = (skin, rng.betavariate(2, 2 * (1 - appetite_mean) / appetite_mean), joined)
        fans = Fan.objects.bulk_create(fans, batch_size=2000)
        for i, f in enumerate(fans):
            f.joined_at = hidden[i][2]
        Fan.objects.bulk_update(fans, ["joined_at"], batch_size=2000)
        shop_rows.append((shop, owner, fans, hidden))

    sku = 0
    plan = []  # (campaign, offered variant objects)
    pledges: list[Pledge] = []
    for shop, owner, fans, hidden in shop_rows:
        launch = start + dt.timedelta(days=30 + rng.uniform(0, 20))
        for c in range(args.campaigns):
            names = rng.sample(VARIANTS, rng.choice([2, 3]))
            product = Product.objects.create(
                shop=shop, name=f"精华{c}", category="beauty", price=Decimal("99.00")
            )
            variants = []
            for name in names:
                sku += 1
                variants.append(
                    Variant.objects.create(product=product, name=name, sku=f"FC-{sku}", price=Decimal("99"))
                )
            deadline = launch + dt.timedelta(days=10)
            campaign = Campaign.objects.create(
                shop=shop, product=product, title=f"精华团购{c}", status=CampaignStatus.SUCCEEDED,
                target_quantity=10, deadline=deadline, deposit_percent=Decimal("10"),
                base_unit_price=Decimal("99.00"), launched_at=launch, created_by=owner,
            )  # fmt: skip
            appeal = rng.gammavariate(6, 1 / 6)
            for i, fan in enumerate(fans):
                skin, appetite, joined = hidden[i]
                if joined > deadline or rng.random() >= min(1.0, appetite * appeal):
                    continue
                weights = [CHOICE[skin][VARIANTS.index(n)] for n in names]
                v = rng.choices(variants, weights=weights)[0]
                pledges.append(
                    Pledge(
                        campaign=campaign, fan=fan, user_id=fan.user_id, variant=v, variant_name=v.name,
                        sku=v.sku, quantity=rng.choice(QUANTITIES), unit_price=v.price,
                        deposit_amount=Decimal("9.90"), status=PledgeStatus.PAID, final_unit_price=v.price,
                        balance_due=Decimal("0.00"),
                    )
                )  # fmt: skip
            plan.append((campaign, variants))
            launch = deadline + dt.timedelta(days=rng.uniform(7, 14))
    Pledge.objects.bulk_create(pledges, batch_size=5000)
    setup["seed_s"] = round(time.monotonic() - t0, 1)

    actual: dict[int, dict[str, int]] = {}
    for p in pledges:
        actual.setdefault(p.campaign_id, {}).setdefault(p.variant_name, 0)
        actual[p.campaign_id][p.variant_name] += p.quantity
    t0 = time.monotonic()
    pairs, triples, naive_pairs, naive_triples, all_pairs = [], [], [], [], []
    last_by_shop: dict[int, dict[str, int]] = {}
    last_deadline: dict[int, dt.datetime] = {}
    for campaign, variants in sorted(plan, key=lambda row: row[0].launched_at):
        body = campaign_forecast(campaign, as_of=campaign.launched_at)
        truth = actual.get(campaign.pk, {})
        # The naive baseline only knows campaigns whose deadline passed before this launch, as the model.
        prior = (
            last_by_shop.get(campaign.shop_id)
            if last_deadline.get(campaign.shop_id, campaign.launched_at) < campaign.launched_at
            else None
        )
        naive = naive_forecast(prior, [v.name for v in variants])
        for i, row in enumerate(body["variants"]):
            a = truth.get(row["name"], 0)
            all_pairs.append((row["expected"], a))
            if naive is not None:
                pairs.append((row["expected"], a))
                triples.append((row["low"], row["high"], a))
                lo, hi = model.poisson_interval(naive[i])
                naive_pairs.append((naive[i], a))
                naive_triples.append((lo, hi, a))
        last_by_shop[campaign.shop_id] = truth
        last_deadline[campaign.shop_id] = campaign.deadline
    replay_s = round(time.monotonic() - t0, 1)
    figures = {
        "mape": model.mape(pairs),
        "coverage_80": model.coverage(triples),
        "naive_mape": model.mape(naive_pairs),
        "naive_coverage_80": model.coverage(naive_triples),
        "mape_incl_first_campaigns": model.mape(all_pairs),
        "campaigns": len(plan),
        "scored_variants": len(pairs),
        "pledges": len(pledges),
        "fans": sum(len(f) for _, _, f, _ in shop_rows),
        "shops": args.shops,
        "seed": args.seed,
        "replay_s": replay_s,
        "setup": setup,
        "model": "docs/forecast.md",
    }
    machine = machine_info(database_url=database_url, redis_url=os.environ.get("REDIS_URL", ""))
    print_machine(machine)
    for key, value in figures.items():
        print(f"{key}: {value}")
    write_results("forecast", machine, figures)
    if figures["mape"] is None or figures["naive_mape"] is None or figures["mape"] >= figures["naive_mape"]:
        raise SystemExit("mape is not below naive_mape")


if __name__ == "__main__":
    main()
