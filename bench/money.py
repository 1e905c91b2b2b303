"""Money at scale, on PostgreSQL with a real Celery worker: collect 100k balances, charge one subscription
cycle of 100k boxes (5% declines enter dunning), reconcile 1M ledger transactions; and count what must be
zero: unbalanced transactions, double charges.

The balance run goes through the provider interface (payments.services.payments_charge -> the simulated
provider's charge_many, which records each charge `pending` in its own table and queues its signed
notifications); a separate `celery worker` process delivers them to the same code the webhook runs, which
settles each payment once and marks the pledge paid. The timer stops when every pledge is paid.

    python bench/money.py [--pledges 100000] [--transactions 1000000]

Writes bench/results/money.json (with the machine it ran on).
"""

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine_info, print_machine, reset_database, write_results  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fansi_bench_money"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
CEILINGS = {"balance_collect_100k_s": 60, "cycle_charge_100k_s": 60, "reconcile_1m_s": 30}


def log(msg: str) -> None:
    print(f"[money] {msg}", flush=True)


def manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=900)


def worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", "2", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # its own process group: SIGKILL reaches the pool's children too
    )


def seed_people(n: int):
    from django.contrib.auth import get_user_model

    from fans.chat.models import Fan
    from shops.models import Factory, FactoryProduct, FactoryVariant, Product, Shop, Variant

    user_model = get_user_model()
    owner = user_model.objects.create(username="bench-owner")
    shop = Shop.objects.create(name="Bench money", slug="bench-money", owner=owner)
    factory = Factory.objects.create(name="Bench factory")
    fp = FactoryProduct.objects.create(factory=factory, name="Jacket", moq=1, unit_cost=Decimal("200.00"))
    fv = FactoryVariant.objects.create(factory_product=fp, name="M", sku="B-M", moq=1)
    product = Product.objects.create(shop=shop, name="Jacket", price=Decimal("499.00"), factory_product=fp)
    variant = Variant.objects.create(
        product=product, name="M", sku="S-M", price=Decimal("499.00"), factory_variant=fv
    )
    users = user_model.objects.bulk_create(
        [user_model(username=f"m{i}", password="!") for i in range(n)], batch_size=5000
    )
    fans = Fan.objects.bulk_create(
        [Fan(shop=shop, user=u, display_name=u.username) for u in users], batch_size=5000
    )
    return shop, product, variant, fans


def seed_pledges(campaign, variant, fans, *, status: str, deposit: str, balance: str | None) -> None:
    from django.db import connection
    from django.utils import timezone

    from preorders.models import Pledge

    now = timezone.now().isoformat()
    buf = io.StringIO()
    final = "449.00" if balance is not None else "\\N"
    due = balance if balance is not None else "\\N"
    for fan in fans:
        buf.write(
            f"{campaign.pk}\t{fan.pk}\t{fan.user_id}\t{variant.pk}\tM\tS-M\t1\t499.00\t{deposit}\tCNY\t{status}\t"
            f"{final}\t{due}\t\t{now}\t{now}\n"
        )
    cols = (
        "campaign_id, fan_id, user_id, variant_id, variant_name, sku, quantity, unit_price, deposit_amount, "
        "currency, status, final_unit_price, balance_due, cancel_reason, created_at, updated_at"
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {Pledge._meta.db_table} ({cols}) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        cursor.execute("ANALYZE")


def wait_until(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def bench_campaign(shop, product, **fields):
    """A campaign row straight in the table (its life so far is not what a phase measures)."""
    from preorders.models import Campaign

    return Campaign.objects.create(
        shop=shop, product=product, factory_product=product.factory_product, target_quantity=1, **fields
    )


def bench_balance(shop, product, variant, fans) -> dict:
    from django.utils import timezone

    from payments.models import Payment
    from payments.services import payments_charge
    from preorders.models import CampaignStatus, Pledge

    now = timezone.now()
    campaign = bench_campaign(
        shop,
        product,
        kind="group",
        title="Bench balance",
        status=CampaignStatus.SUCCEEDED,
        deadline=now - timezone.timedelta(hours=1),
        balance_deadline=now + timezone.timedelta(days=2),
        deposit_percent=Decimal("10"),
        base_unit_price=Decimal("499.00"),
        final_unit_price=Decimal("449.00"),
        committed_quantity=len(fans),
        closed_at=now,
        decided_at=now,
    )
    seed_pledges(campaign, variant, fans, status="confirmed", deposit="49.90", balance="399.10")
    pledges = list(Pledge.objects.filter(campaign=campaign).values_list("pk", "user_id"))
    log(f"collecting {len(pledges)} balances")
    start = time.perf_counter()
    for i in range(0, len(pledges), 2000):
        chunk = pledges[i : i + 2000]
        rows = [
            Payment(
                purpose="balance",
                reference=f"pledge-{pk}-balance-1",
                user_id=user_id,
                amount=Decimal("399.10"),
                shop_id=shop.pk,
                campaign_id=campaign.pk,
                pledge_id=pk,
                subject_id=pk,
            )
            for pk, user_id in chunk
        ]
        Payment.objects.bulk_create(rows, batch_size=2000)
        payments_charge(rows)
    done = wait_until(
        lambda: not Pledge.objects.filter(campaign=campaign, status="confirmed").exists(), timeout=600
    )
    elapsed = time.perf_counter() - start
    paid = Pledge.objects.filter(campaign=campaign, status="paid").count()
    log(f"balances: {paid} paid in {elapsed:.1f} s (complete: {done})")
    return {"balance_collect_100k_s": round(elapsed, 2), "balance_paid": paid, "balance_complete": done}


def bench_cycle(shop, product, variant, fans) -> dict:
    from django.db.models import Count
    from django.utils import timezone

    from payments.models import SimulatorRule
    from preorders.models import CampaignStatus, CycleDelivery, SubscriptionCycle
    from preorders.services.subscriptions import cycle_cut

    now = timezone.now()
    campaign = bench_campaign(
        shop,
        product,
        kind="subscription",
        title="Bench box",
        status=CampaignStatus.LIVE,
        deadline=now + timezone.timedelta(hours=1),
        deposit_percent=Decimal("0"),
        base_unit_price=Decimal("99.00"),
        cadence="weekly",
        launched_at=now,
    )
    seed_pledges(campaign, variant, fans, status="active", deposit="0.00", balance=None)
    cutoff = timezone.now()  # after the subscriptions were placed
    cycle = SubscriptionCycle.objects.create(
        campaign=campaign, number=1, delivery_at=cutoff + timezone.timedelta(hours=1), cutoff_at=cutoff
    )
    declines = len(fans) // 20
    SimulatorRule.objects.bulk_create(
        [SimulatorRule(user_id=f.user_id, outcome="decline", times=1) for f in fans[:declines]]
    )
    log(f"charging one cycle of {len(fans)} boxes ({declines} declines)")
    start = time.perf_counter()
    cycle_cut(cycle_id=cycle.pk)  # dispatches the charge run to the worker
    done = wait_until(
        lambda: not CycleDelivery.objects.filter(cycle=cycle, status="charging").exists(), timeout=600
    )
    elapsed = time.perf_counter() - start
    counts = dict(CycleDelivery.objects.filter(cycle=cycle).values_list("status").annotate(n=Count("pk")))
    log(f"cycle: {counts} in {elapsed:.1f} s (complete: {done})")
    return {"cycle_charge_100k_s": round(elapsed, 2), "cycle_statuses": counts, "cycle_complete": done}


def bench_reconcile(n: int) -> dict:
    from django.db import connection

    from payments.reconcile import reconcile

    log(f"seeding {n} ledger transactions with their provider records")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO payments_ledgertransaction (kind, reference, amount, currency, provider_id, memo, created_at) "
            "SELECT 'deposit', 'rec-' || g, 10.00, 'CNY', 'p' || g, '', now() FROM generate_series(1, %s) g",
            [n],
        )
        cursor.execute(
            "INSERT INTO payments_ledgerleg (transaction_id, account, amount) "
            "SELECT id, 'provider', amount FROM payments_ledgertransaction WHERE reference LIKE 'rec-%%' "
            "UNION ALL SELECT id, 'fans_held', -amount FROM payments_ledgertransaction WHERE reference LIKE 'rec-%%'"
        )
        cursor.execute(
            "INSERT INTO payments_simulatedtransaction (provider_id, reference, kind, amount, currency, status, "
            "charge_reference, created_at) SELECT 'sim-rec-' || g, 'rec-' || g, 'charge', 10.00, 'CNY', "
            "'succeeded', '', now() FROM generate_series(1, %s) g",
            [n],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT COUNT(*) FROM payments_ledgertransaction")
        total = cursor.fetchone()[0]
    log(f"reconciling {total} transactions")
    start = time.perf_counter()
    report = reconcile()
    elapsed = time.perf_counter() - start
    log(f"reconcile: {report['difference_count']} differences in {elapsed:.1f} s")
    return {
        "reconcile_1m_s": round(elapsed, 2),
        "reconciled_transactions": total,
        "reconcile_differences": report["difference_count"],
    }


def bench_compensation(shop, product, variant, fans, env: dict[str, str]) -> dict:
    """慢就赔 for every paid, unshipped pledge past ship_by, with the worker SIGKILLed mid-run and restarted:
    every pledge must end with exactly one credit, one provider refund and one ledger transaction."""
    import signal

    from django.db import connection
    from django.utils import timezone

    from preorders.models import Campaign, CampaignStatus, Credit
    from preorders.tasks import late_compensation_due_task

    now = timezone.now()
    campaign = bench_campaign(
        shop,
        product,
        kind="group",
        title="Bench late",
        status=CampaignStatus.SUCCEEDED,
        deadline=now - timezone.timedelta(days=3),
        balance_deadline=now - timezone.timedelta(days=2),
        ship_by=now - timezone.timedelta(minutes=1),
        deposit_percent=Decimal("10"),
        base_unit_price=Decimal("499.00"),
        final_unit_price=Decimal("449.00"),
        committed_quantity=len(fans),
        closed_at=now - timezone.timedelta(days=3),
        decided_at=now - timezone.timedelta(days=3),
        lapsed_at=now - timezone.timedelta(days=2),
    )
    seed_pledges(campaign, variant, fans, status="paid", deposit="44.90", balance="404.10")
    with connection.cursor() as cursor:  # what each fan paid, in the ledger
        cursor.execute(
            "INSERT INTO payments_ledgertransaction (kind, reference, amount, currency, shop_id, campaign_id, "
            "pledge_id, provider_id, memo, created_at) SELECT 'balance', 'late-seed-' || id, 449.00, 'CNY', %s, "
            "campaign_id, id, 'seed', '', now() FROM preorders_pledge WHERE campaign_id = %s",
            [shop.pk, campaign.pk],
        )
        cursor.execute(
            "INSERT INTO payments_ledgerleg (transaction_id, account, amount) "
            "SELECT id, 'provider', amount FROM payments_ledgertransaction WHERE campaign_id = %s AND reference LIKE 'late-seed-%%' "
            "UNION ALL SELECT id, 'fans_held', -amount FROM payments_ledgertransaction WHERE campaign_id = %s "
            "AND reference LIKE 'late-seed-%%'",
            [campaign.pk, campaign.pk],
        )
    credits = Credit.objects.filter(pledge__campaign=campaign, kind="late_compensation")
    proc = worker(env)
    time.sleep(6)
    log(f"late-shipment sweep over {len(fans)} paid, unshipped pledges; SIGKILL once a third is paid")
    start = time.perf_counter()
    late_compensation_due_task.delay()
    wait_until(lambda: credits.filter(paid_out=True).count() >= len(fans) // 3, timeout=600)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = credits.filter(paid_out=True).count()
    log(f"killed the worker with {killed_at} credits paid; restarting it")
    proc = worker(env)
    try:
        time.sleep(6)
        late_compensation_due_task.delay()  # what beat does on its next minute
        done = wait_until(
            lambda: Campaign.objects.filter(pk=campaign.pk, late_checked_at__isnull=False).exists(),
            timeout=900,
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT pledge_id FROM preorders_credit WHERE kind = 'late_compensation' "
            "AND pledge_id IN (SELECT id FROM preorders_pledge WHERE campaign_id = %s) "
            "GROUP BY pledge_id HAVING COUNT(*) > 1) d",
            [campaign.pk],
        )
        dup_credits = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT pledge_id FROM payments_ledgertransaction WHERE kind = 'compensation' "
            "AND campaign_id = %s GROUP BY pledge_id HAVING COUNT(*) > 1) d",
            [campaign.pk],
        )
        dup_ledger = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(*) FROM payments_simulatedtransaction WHERE kind = 'refund' AND reference LIKE 'pledge-%%-late'"
        )
        refunds = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(DISTINCT pledge_id) FROM payments_ledgertransaction WHERE kind = 'compensation' "
            "AND campaign_id = %s",
            [campaign.pk],
        )
        compensated = cursor.fetchone()[0]
    log(
        f"compensation: {compensated} pledges, {refunds} refunds, duplicates {dup_credits + dup_ledger} in {elapsed:.1f} s"
    )
    return {
        "compensation_pledges": len(fans),
        "compensation_paid_when_killed": killed_at,
        "compensation_compensated": compensated,
        "compensation_provider_refunds": refunds,
        "compensation_duplicates": dup_credits + dup_ledger + max(0, refunds - compensated),
        "compensation_complete": bool(done) and compensated == len(fans),
        "compensation_s": round(elapsed, 2),
    }


def invariants() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT transaction_id FROM payments_ledgerleg GROUP BY transaction_id "
            "HAVING SUM(amount) <> 0) u"
        )
        unbalanced = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT pledge_id, kind FROM payments_ledgertransaction "
            "WHERE kind IN ('balance') GROUP BY pledge_id, kind HAVING COUNT(*) > 1) d"
        )
        double_ledger = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT subject_id, purpose FROM payments_payment WHERE status = 'succeeded' "
            "GROUP BY subject_id, purpose HAVING COUNT(*) > 1) d"
        )
        double_payments = cursor.fetchone()[0]
    return {"unbalanced": unbalanced, "double_charged": double_ledger + double_payments}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pledges", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--late", type=int, default=5_000, help="paid, unshipped pledges for the kill test")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.setdefault("FANSI_CHANNEL_PREFIX", "fansi_money")
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ.update(env)
    machine = machine_info(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"])
    print_machine(machine)
    reset_database(env["DATABASE_URL"])
    manage(["migrate", "--noinput", "-v", "0"], env)
    import django

    django.setup()
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    shop, product, variant, fans = seed_people(args.pledges)
    proc = worker(env)
    time.sleep(8)
    try:
        figures = {**bench_balance(shop, product, variant, fans)}
        figures.update(bench_cycle(shop, product, variant, fans))
        figures.update(bench_reconcile(args.transactions))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    figures.update(bench_compensation(shop, product, variant, fans[: args.late], env))
    figures.update(invariants())
    figures["ratios_to_ceiling"] = {
        k: round(figures[k] / c, 3) for k, c in CEILINGS.items() if isinstance(figures.get(k), int | float)
    }
    figures["note"] = (
        "1 bench process (starts the balance charges, like many fans tapping pay) + 1 Celery worker (-c 2: "
        "delivers the simulated provider's signed notifications, runs the cycle charge and the late-shipment "
        "sweep) + PostgreSQL + Redis on one 2-core machine. The late-shipment sweep's worker is SIGKILLed once a "
        "third of the credits are paid and restarted; duplicates count credits, ledger transactions and provider "
        "refunds beyond one per pledge."
    )
    path = write_results("money", machine, figures)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
