"""manage.py reconcile: the ledger against the provider's records, a clean run, a tampered record and a
missing transaction, and the command's exit status."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from payments.models import SimulatedTransaction
from payments.provider import ChargeRequest
from preorders.models import (
    Pledge,
)
from tests import servers
from tests.factories import FanFactory
from tests.preorders.conftest import make_campaign, shop_product
from tests.preorders.settlement_helpers import *  # noqa: F403  (its fixtures)
from tests.preorders.settlement_helpers import (
    D,
    send_http,
)

pytestmark = pytest.mark.django_db


# --- manage.py reconcile ----------------------------------------------------------------------------


def test_reconcile_clean_run_prints_zero_differences(worked, api_for, admin_user):
    send_http(api_for, admin_user, worked["order"])
    out = io.StringIO()
    call_command("reconcile", stdout=out)
    assert out.getvalue().strip().endswith("0 differences")


def test_reconcile_lists_a_tampered_provider_record_and_a_missing_ledger_transaction(worked, provider):
    a = worked["pledges"]["A"]
    SimulatedTransaction.objects.filter(kind="charge", reference=f"pledge-{a.pk}-charge").update(
        amount=D("199.00")
    )
    # Money the provider took that the ledger never recorded.
    provider.charge(ChargeRequest("pledge-999999-charge", D("88.00"), "CNY", a.user_id), wait=True)
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 differences"):
        call_command("reconcile", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(
        line.startswith("amount_mismatch")
        and f"pledge-{a.pk}-charge" in line
        and "ledger=200.00" in line
        and "provider=199.00" in line
        for line in lines
    )
    assert any(line.startswith("missing_in_ledger") and "pledge-999999-charge" in line for line in lines)
    assert lines[-1].endswith("2 differences")


@override_settings(FANSI_PAYMENT_PROVIDER="tests.preorders.test_settlement_reconcile.RecordsOnlyProvider")
def test_reconcile_through_provider_records_finds_the_same(worked):
    """A provider other than the simulated one is read through records(): the same differences."""
    a = worked["pledges"]["A"]
    SimulatedTransaction.objects.filter(kind="charge", reference=f"pledge-{a.pk}-charge").update(
        amount=D("1.00")
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 differences"):
        call_command("reconcile", stdout=out)
    assert f"amount_mismatch      pledge-{a.pk}-charge" in out.getvalue()


class RecordsOnlyProvider:
    """The simulated provider's books, seen only through records() (as WeChat Pay's bill is)."""

    name = "records-only"

    def records(self):
        from payments.simulated import SimulatedProvider

        return SimulatedProvider().records()


@pytest.mark.django_db(transaction=True)
def test_reconcile_command_exit_status(require_services, shop, jacket):
    """`manage.py reconcile` as an operator runs it: 0 on clean books, non-zero with the differences listed."""
    product, v_l, _v_m = shop_product(shop, jacket)
    campaign = make_campaign(shop.owner, product, tiers=[])
    from preorders.services import pledge_place

    pledge_place(user=FanFactory(shop=shop).user, campaign_id=campaign.pk, variant_id=v_l.pk, quantity=2)
    command = [sys.executable, "manage.py", "reconcile"]
    clean = subprocess.run(
        command,
        cwd=servers.ROOT,
        env=servers.test_database_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip().endswith("0 differences")
    SimulatedTransaction.objects.filter(kind="charge").update(amount=D("1.00"))
    dirty = subprocess.run(
        command,
        cwd=servers.ROOT,
        env=servers.test_database_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dirty.returncode != 0
    pledge = Pledge.objects.get()
    assert f"amount_mismatch      pledge-{pledge.pk}-charge" in dirty.stdout
    assert "1 differences" in dirty.stderr
