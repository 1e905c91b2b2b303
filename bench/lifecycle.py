"""The nightly lifecycle tags for 1M fans (issue 16): adds its figures to bench/results/reach.json.

Setup: resets the bench database (its name must contain "bench"), migrates and seeds one shop of --fans fans
with `bench/seed_scale.py` (COPY), then, set-based on the server: a fan message for about 40% of the fans and
paid pledges for about 25% (1 to 3 deposits each over the last 400 days, 5% of them refunds) in the ledger.
Then, in this process:
  lifecycle_1m_fans_s          the first computation (every fan gets its tags: the worst case)
  lifecycle_1m_fans_rerun_s    the same night again (idempotent: must add and remove nothing)
  lifecycle_1m_fans_nightly_s  30 days later with 1% of the fans newly active (a typical night's changes)
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.chat import manage, seed_scale_run  # noqa: E402
from bench.common import RESULTS_DIR, machine_info, print_machine, reset_database, write_results  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_life_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
SLUG = "lifecycle"
CEILING_S = 120
# What was tried for the first computation (1M fans, rolled-back experiments on the seeded bench DB, loads 6-16).
LIFECYCLE_TRIES = (
    "Tries (one statement each, 1M fans, rolled back, load 6-16): FanTagSet update with the tag-set GIN's "
    "fastupdate off 85.3 s; GIN dropped 33.8 s + 3.8 s to rebuild it; covering index fantagset_shop_joined "
    "dropped 59.6 s; fastupdate on 33.5 s (the pending list merged in batches during the update, "
    "gin_clean_pending_list after it 0.03 s): kept as migration crm 0004 (switching it or dropping the index "
    "at run time takes an ACCESS EXCLUSIVE lock that blocks every FanTagSet read and write). FanTag insert of "
    "1.1M rows 26-31 s, then its deferred foreign-key checks 46.7 s; with the fan rows locked FOR KEY SHARE first "
    "in one statement (2.1 s) the checks still took 43.4 s (not kept: the cost is the per-row check, not the "
    "lock); with the tag and group FKs dropped 33.3 s, with the fan FK dropped too 1.0 s: the fan FK check is "
    "~30 us a row, immediate (SET CONSTRAINTS IMMEDIATE) or at COMMIT alike; not changed (FanTag is the source "
    "of truth; db_constraint=False on FanTag.fan, as FanTagEvent has, would save ~33 s of a 1M backfill: the "
    "lead's call). Fan.tag_ids update of 1M rows 32 s before the FK checks, 69.7 s after them (every fan row "
    "locked by the checks). Batches of 100k changed fans: bounded transactions and a resumable run, not a speed-up "
    "by themselves. Fan rows whose tag_ids already match are skipped (IS DISTINCT FROM); tag_ids is in no index, "
    "so a fan update is HOT when its page has room (fillfactor 90 since fans 0011; a lower fillfactor would help "
    "the nightly, not the first run, which rewrites every row). 2026-12-08, this session's machine (the same "
    "reads ~1.4x slower than the machine of the figures above: lc_want 11.5 s against 8.4 s): first computation "
    "with the fan FK still in place (fresh seed, load 4-15) 235.9 s; FanTag.fan without a database FK (migration "
    "crm 0005, the inserts join fans_fan instead) on the second cycle, quiet: 171.9 s (FanTag insert 48.0 s, "
    "FanTagSet update 40.6 s, Fan update 45.0 s, the rest the COMMITs' tag and group FK checks), rerun 19.9 s, "
    "nightly 68.9 s; KEPT. Then two batches at once on two connections (WORKERS = 2; PostgreSQL runs a statement "
    "on one core): first 113.5 s, rerun 23.0 s, nightly 63.1 s; the bench again (this run, one more cycle of "
    "bloat in the re-used tables) first 119.5 s, rerun 22.7 s, nightly 58.5 s: 0.5 s under the ceiling; KEPT."
)


def log(msg: str) -> None:
    print(f"[lifecycle {time.strftime('%H:%M:%S', time.gmtime())}Z] {msg}", flush=True)


def seed_activity(shop) -> dict[str, int]:
    """Messages, pledges and ledger postings for the shop's fans, INSERT ... SELECT on the server."""
    from django.db import connection, transaction

    from preorders.models import Campaign, Pledge
    from shops.models import Product, Variant

    product = Product.objects.create(shop=shop, name="bench", category="beauty", brand="Fansi", price=100)
    variant = Variant.objects.create(product=product, name="v", price=100)
    campaign = Campaign.objects.create(
        shop=shop,
        product=product,
        title="bench",
        target_quantity=10,
        deadline=dt.datetime.now(dt.UTC),
        deposit_percent=10,
        base_unit_price=100,
    )
    first = Fan_first(shop)
    template = Pledge.objects.create(
        campaign=campaign,
        fan_id=first[0],
        user_id=first[1],
        variant=variant,
        variant_name="v",
        sku="S",
        quantity=1,
        unit_price=100,
        deposit_amount=10,
    )
    cols = [f.column for f in Pledge._meta.concrete_fields if f.column not in ("id", "fan_id", "user_id")]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")  # seeding: skip the per-row triggers
        cur.execute(
            "INSERT INTO fans_message (conversation_id, seq, sender_id, side, kind, text, payload, image, "
            "thumbnail, created_at) SELECT c.id, c.last_seq + 1, NULL, 'fan', 'text', 'hi', '{}', '', '', "
            "now() - random() * interval '200 days' FROM fans_conversation c "
            "WHERE c.shop_id = %s AND random() < 0.4",
            [shop.pk],
        )
        messages = cur.rowcount
        cur.execute(
            f"INSERT INTO preorders_pledge (fan_id, user_id, {', '.join(cols)}) "
            f"SELECT f.id, f.user_id, {', '.join('p.' + c for c in cols)} FROM fans_fan f, preorders_pledge p "
            "WHERE p.id = %s AND f.shop_id = %s AND f.id <> %s AND random() < 0.25",
            [template.pk, shop.pk, first[0]],
        )
        pledges = cur.rowcount + 1
        cur.execute(
            "CREATE TEMP TABLE bench_txn ON COMMIT DROP AS SELECT p.id AS pledge_id, k, "
            "(ARRAY[50, 120, 120, 300, 19.9])[1 + floor(random() * 5)::int]::numeric(12, 2) AS amount, "
            "random() < 0.05 AS refund, now() - random() * interval '400 days' AS at "
            # 1 to 3 per pledge: the series references the pledge, so it is drawn again for each one (a filter
            # on k alone was pushed into one materialised series: every pledge got the same count, 1 or 3).
            "FROM preorders_pledge p CROSS JOIN LATERAL generate_series(1, 1 + floor(random() * 3)::int + 0 * p.id) k "
            "WHERE p.campaign_id = %s",
            [campaign.pk],
        )
        cur.execute(
            "INSERT INTO payments_ledgertransaction (kind, reference, amount, currency, shop_id, campaign_id, "
            "pledge_id, factory_id, provider_id, memo, created_at) SELECT CASE WHEN refund THEN 'refund' ELSE "
            "'deposit' END, 'lc-' || pledge_id || '-' || k, amount, 'CNY', %s, %s, pledge_id, NULL, '', '', at "
            "FROM bench_txn",
            [shop.pk, campaign.pk],
        )
        txns = cur.rowcount
        cur.execute(
            "INSERT INTO payments_ledgerleg (transaction_id, account, amount) "
            "SELECT t.id, a.account, CASE WHEN a.account = 'provider' THEN 1 ELSE -1 END "
            "* CASE WHEN t.kind = 'refund' THEN -1 ELSE 1 END * t.amount "
            "FROM payments_ledgertransaction t CROSS JOIN (VALUES ('provider'), ('fans_held')) a(account) "
            "WHERE t.campaign_id = %s",
            [campaign.pk],
        )
        cur.execute("ANALYZE fans_message; ANALYZE preorders_pledge; ANALYZE payments_ledgertransaction")
        cur.execute("ANALYZE payments_ledgerleg")
    return {"messages": messages, "pledges": pledges, "ledger_transactions": txns}


def backend_cpu_s(connection) -> float | None:
    """CPU seconds (user + system) of this connection's PostgreSQL backend so far, from /proc (same machine)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process so far, exited backends included (they are the postmaster's
    children: their time is in its cutime/cstime): the batches' worker connections come and go."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[-1] in ("postgres", "postmaster"):
            f = rest.split()
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / os.sysconf("SC_CLK_TCK")


class StatementTimes:
    """execute_wrapper: wall time of the statements over 0.2 s, summed by their first words (the batches repeat
    the same statements), as [seconds, count]."""

    def __init__(self):
        self.totals: dict[str, list] = {}

    def __call__(self, execute, sql, params, many, context):
        start = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.monotonic() - start
            if spent > 0.2:
                entry = self.totals.setdefault(" ".join(sql.split()[:8])[:90], [0.0, 0])
                entry[0], entry[1] = round(entry[0] + spent, 2), entry[1] + 1

    @property
    def times(self) -> list[tuple[str, float, int]]:
        return [(sql, total, n) for sql, (total, n) in self.totals.items()]


def timed_run(connection, label, fn):
    """Run fn() with statement timings; returns (result, wall s, backend CPU s, statements)."""
    times = StatementTimes()
    cpu0, all0 = backend_cpu_s(connection), postgres_cpu_s()
    start = time.monotonic()
    with connection.execute_wrapper(times):
        result = fn()
    wall = round(time.monotonic() - start, 2)
    cpu1, all1 = backend_cpu_s(connection), postgres_cpu_s()
    cpu = round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else None
    every = round(all1 - all0, 2)
    log(f"{label}: {wall} s wall, backend CPU {cpu} s (all PostgreSQL {every} s), load {os.getloadavg()}")
    for sql, spent, n in times.times:
        log(f"  {spent:8.2f} s  x{n:<3} {sql}")
    return result, wall, {"coordinator": cpu, "all_postgres": every}, times.times


def seeded_counts(shop) -> dict[str, int]:
    """A re-used database: drop the previous run's "30 days later" messages, count what the seeding left."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM fans_message m USING fans_conversation c WHERE c.id = m.conversation_id "
            "AND c.shop_id = %s AND m.text = 'hi again'",
            [shop.pk],
        )
        cur.execute(
            "SELECT (SELECT COUNT(*) FROM fans_message m JOIN fans_conversation c ON c.id = m.conversation_id "
            "WHERE c.shop_id = %s AND m.side = 'fan'), (SELECT COUNT(*) FROM preorders_pledge p JOIN "
            "preorders_campaign k ON k.id = p.campaign_id WHERE k.shop_id = %s), "
            "(SELECT COUNT(*) FROM payments_ledgertransaction WHERE shop_id = %s)",
            [shop.pk] * 3,
        )
        messages, pledges, txns = cur.fetchone()
    return {"messages": messages, "pledges": pledges, "ledger_transactions": txns}


def Fan_first(shop):  # noqa: N802 - (id, user id) of the shop's first fan
    from fans.chat.models import Fan

    return Fan.objects.filter(shop=shop).order_by("pk").values_list("pk", "user_id").first()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fans", type=int, default=1_000_000)
    parser.add_argument("--skip-setup", action="store_true", help="reuse a seeded bench database")
    parser.add_argument("--setup-only", action="store_true", help="seed the bench database and stop")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.setdefault("FANSI_CHANNEL_PREFIX", "fansi_lifecycle")
    env.setdefault("FANSI_CACHE_PREFIX", "fansi_lifecycle")
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.update(env)
    machine = machine_info(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"])
    print_machine(machine)
    if not args.skip_setup:
        log("resetting and migrating the bench database")
        reset_database(env["DATABASE_URL"])
        manage(["migrate", "--noinput"], env, timeout=900)
        log(f"seeding {args.fans} fans")
        seed_scale_run(["--fans", str(args.fans), "--shop-slug", SLUG, "--tags", "60"], env, timeout=2400)

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from fans.chat.models import Fan
    from fans.crm.lifecycle import lifecycle_recompute, lifecycle_tags
    from fans.crm.models import FanTagEvent
    from shops.models import Shop

    shop = Shop.objects.get(slug=SLUG)
    if not args.skip_setup:
        log("seeding messages, pledges and ledger postings")
        seeded = seed_activity(shop)
        log(f"seeded {seeded}")
        if args.setup_only:
            return
    else:
        seeded = seeded_counts(shop)
    # Back to "never computed" (a re-used database): no lifecycle rows, and none of their ids in the arrays.
    lifecycle_ids = sorted(t.pk for t in lifecycle_tags().values())
    with connection.cursor() as cur:
        cur.execute("DELETE FROM fans_fantag WHERE tag_id = ANY(%s)", [lifecycle_ids])
        cur.execute(
            "WITH s AS (UPDATE fans_fantagset SET tags = tags - %s::int[] WHERE tags && %s::int[] "
            "RETURNING fan_id, tags) UPDATE fans_fan f SET tag_ids = to_jsonb(s.tags) FROM s WHERE f.id = s.fan_id",
            [lifecycle_ids, lifecycle_ids],
        )
        cur.execute("VACUUM ANALYZE fans_fantag")
        cur.execute("VACUUM ANALYZE fans_fan")
        cur.execute("VACUUM ANALYZE fans_fantagset")
    fans = Fan.objects.filter(shop=shop).count()
    now = timezone.now()

    loads = [os.getloadavg()]
    log("first computation")
    first, first_s, first_cpu, first_st = timed_run(
        connection, "first", lambda: lifecycle_recompute(shop, now=now)
    )
    log(f"first: {first}")
    loads.append(os.getloadavg())

    events = FanTagEvent.objects.count()
    rerun, rerun_s, rerun_cpu, _ = timed_run(connection, "rerun", lambda: lifecycle_recompute(shop, now=now))
    loads.append(os.getloadavg())
    assert FanTagEvent.objects.count() == events, "a run that changes nothing must write no events"
    log(f"rerun: {rerun_s} s {rerun}")

    later = now + dt.timedelta(days=30)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO fans_message (conversation_id, seq, sender_id, side, kind, text, payload, image, "
            "thumbnail, created_at) SELECT c.id, c.last_seq + 2, NULL, 'fan', 'text', 'hi again', '{}', '', '', "
            "%s FROM fans_conversation c WHERE c.shop_id = %s AND c.fan_id %% 100 = 7",
            [later - dt.timedelta(days=1), shop.pk],
        )
    nightly, nightly_s, nightly_cpu, nightly_st = timed_run(
        connection, "nightly", lambda: lifecycle_recompute(shop, now=later)
    )
    log(f"nightly: {nightly}")
    loads.append(os.getloadavg())

    figures = {
        "lifecycle_fans": fans,
        "lifecycle_1m_fans_s": first_s,
        "lifecycle_1m_fans_ratio": round(first_s / CEILING_S, 3),
        "lifecycle_1m_fans_rerun_s": rerun_s,
        "lifecycle_1m_fans_nightly_s": nightly_s,
        "lifecycle_1m_fans_nightly_ratio": round(nightly_s / CEILING_S, 3),
        "lifecycle_backend_cpu_s": {"first": first_cpu, "rerun": rerun_cpu, "nightly": nightly_cpu},
        "lifecycle_statements_s": {"first": first_st, "nightly": nightly_st},
        "lifecycle_load_average": {
            "before": loads[0],
            "after_first": loads[1],
            "after_rerun": loads[2],
            "after_nightly": loads[3],
        },
        "lifecycle_counts": first["counts"],
        "lifecycle_first_changes": {"added": first["added"], "removed": first["removed"]},
        "lifecycle_rerun_changes": {"added": rerun["added"], "removed": rerun["removed"]},
        "lifecycle_nightly_changes": {"added": nightly["added"], "removed": nightly["removed"]},
        "lifecycle_seeded": seeded,
        "lifecycle_notes": (
            "one shop of 1M fans (seeded by --setup-only, then runs with --skip-setup: each run first resets the "
            "lifecycle rows and their ids in the arrays); the first run writes every fan's tags (1.1M FanTag rows "
            "and events, 1M FanTagSet and Fan rows), applied in batches of 100k changed fans, one transaction "
            "each, two batches at once on two connections (fans.crm.lifecycle_apply.WORKERS); load averages in "
            "lifecycle_load_average; lifecycle_backend_cpu_s: 'coordinator' is the computing connection's "
            "backend, 'all_postgres' every PostgreSQL process (the batch workers' included) from /proc; "
            "lifecycle_statements_s the coordinator's statements over 0.2 s as [statement, wall s summed, count] "
            "(the batches run on the workers' connections and are not in it); server defaults shared_buffers "
            "128MB, max_wal_size 1GB. "
        )
        + LIFECYCLE_TRIES,
    }
    path = RESULTS_DIR / "reach.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    base_machine = merged.pop("machine", None)
    date = merged.pop("date", None)
    merged.update(figures)
    merged["lifecycle_machine"] = machine
    merged["lifecycle_1m_fans_ceiling_s"] = CEILING_S
    write_results("reach", base_machine or machine, merged)
    if date:  # keep the date of the run that wrote the machine; ours is in lifecycle_machine
        doc = json.loads(path.read_text())
        doc["date"] = date
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
