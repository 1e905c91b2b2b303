"""A worker process is killed (SIGKILL) in the middle of closing a campaign; the rerun ends exactly like a
close that was never interrupted."""

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from fans.chat.models import Fan
from preorders.models import Campaign, CampaignNotice, LedgerEntry, Pledge
from preorders.services import campaign_close, campaigns_close_due, closing
from tests import servers
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.preorders.test_closing import pledge_many

ROOT = Path(__file__).resolve().parents[2]
# The child closes in chunks of two pledges and stops for a long time after the first chunk has committed:
# that is where the parent kills it.
WORKER = """
import sys, time
import django
django.setup()
from preorders.services import campaign_close, closing
closing.CHUNK = 2
def pause(campaign_id, settled):
    print("chunk-committed", settled, flush=True)
    time.sleep(120)
closing._after_chunk = pause
print("finished", campaign_close(campaign_id=int(sys.argv[1])), flush=True)
"""


def _outcome(campaign: Campaign) -> tuple:
    campaign.refresh_from_db()
    pledges = list(
        Pledge.objects.filter(campaign=campaign)
        .order_by("pk")
        .values_list("status", "quantity", "final_unit_price", "balance_due")
    )
    ledger = sorted(
        LedgerEntry.objects.filter(pledge__campaign=campaign).values_list("kind", "amount", "currency")
    )
    fans = sorted(Fan.objects.filter(pledges__campaign=campaign).values_list("pledge_count", "total_spend"))
    told = CampaignNotice.objects.filter(campaign=campaign).count()
    return campaign.status, campaign.final_unit_price, pledges, ledger, fans, told


def _campaign_with_pledges(quantity: int) -> Campaign:
    shop = FanFactory().shop
    product = shop_product(shop)
    campaign = make_campaign(shop.owner, product[0])
    pledge_many(campaign, product[1], [FanFactory(shop=shop) for _ in range(7)], quantity)
    # Well past the deadline, so the child process sees it passed even if its clock lags ours a little.
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - dt.timedelta(hours=1))
    campaign.refresh_from_db()
    return campaign


@pytest.mark.parametrize("reach", [True, False], ids=["succeeds", "fails"])
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_close_then_rerun_ends_the_same(require_services, monkeypatch, reach) -> None:
    quantity = 2 if reach else 1  # 7 fans x 2 = 14 reaches the target of 10; 7 x 1 does not
    killed = _campaign_with_pledges(quantity)
    control = _campaign_with_pledges(quantity)

    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(killed.pk)],
        cwd=ROOT,
        env=servers.test_database_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = worker.stdout.readline()
        assert line.startswith("chunk-committed"), (line, worker.stderr.read() if worker.poll() else "")
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    # Half-closed: some pledges settled, the campaign not marked closed, and beat would pick it up again.
    assert Campaign.objects.get(pk=killed.pk).closed_at is None
    statuses = list(Pledge.objects.filter(campaign=killed).values_list("status", flat=True))
    assert len(set(statuses)) == 2, statuses  # the first chunk settled, the rest not yet
    assert killed.pk in campaigns_close_due()

    monkeypatch.setattr(closing, "CHUNK", 2)
    campaign_close(campaign_id=killed.pk)
    campaign_close(campaign_id=control.pk)
    assert _outcome(killed) == _outcome(control)
    assert killed.status == ("succeeded" if reach else "failed")
    # And a third run (beat firing again) changes nothing.
    before = _outcome(killed)
    campaign_close(campaign_id=killed.pk)
    assert _outcome(killed) == before
