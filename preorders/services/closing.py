"""Closing group campaigns at their deadline: decide, settle every pledge, tell everyone, roll up.

Each step is safe to rerun and to resume after a crash: the outcome is decided once under the campaign
lock; pledges are settled in chunks guarded by their status; refunds use one provider reference per
pledge and a unique ledger reference; notices are unique per (campaign, fan); the roll-up is unique per
campaign. So running the close twice, or again after it died half-way, ends in the same state.
"""

import logging
from collections import defaultdict
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.events import announce, shop_group, user_group
from fans.chat.models import Conversation, Fan, MessageKind
from fans.chat.services import system_message_post
from preorders.models import (
    Campaign,
    CampaignKind,
    CampaignNotice,
    CampaignStatus,
    LedgerEntry,
    LedgerKind,
    Pledge,
    PledgeStatus,
)
from preorders.payments import payment_provider
from preorders.selectors import campaign_tiers, unit_price_at
from preorders.services.campaigns import campaign_card_build
from preorders.services.factory_orders import campaign_rollup
from preorders.services.pledges import pledges_cancelled_refund, pledges_pending_sweep

logger = logging.getLogger(__name__)
CHUNK = 5000


def _after_chunk(campaign_id: int, settled: int) -> None:
    """Test seam: a close that crashes mid-way raises here."""


def campaign_decide(*, campaign_id: int) -> Campaign:
    """Fix the outcome once: succeeded (with the final tier price) if the target was reached, else failed."""
    with transaction.atomic(durable=True):
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != CampaignStatus.LIVE or campaign.kind != CampaignKind.GROUP:
            return campaign
        if campaign.deadline > timezone.now():
            return campaign
        if campaign.committed_quantity >= campaign.target_quantity:
            campaign.status = CampaignStatus.SUCCEEDED
            campaign.final_unit_price = unit_price_at(
                base=campaign.base_unit_price,
                tiers=campaign_tiers(campaign),
                quantity=campaign.committed_quantity,
            )
        else:
            campaign.status = CampaignStatus.FAILED
        campaign.decided_at = timezone.now()
        campaign.save(update_fields=["status", "final_unit_price", "decided_at"])
    return campaign


def _fan_counters_apply(spend: dict[int, Decimal], pledges: dict[int, int]) -> None:
    """Bulk guarded counter updates for many fans, in fan pk order."""
    fan_ids = sorted(set(spend) | set(pledges))
    if not fan_ids:
        return
    if connection.vendor != "postgresql":
        # Embedded mode (SQLite, demo-sized shops): one guarded update per fan.
        for fid in fan_ids:
            n = pledges.get(fid, 0)
            Fan.objects.filter(pk=fid, pledge_count__gte=-n).update(
                total_spend=F("total_spend") + spend.get(fid, Decimal(0)), pledge_count=F("pledge_count") + n
            )
        return
    values = ", ".join(["(%s::bigint, %s::numeric, %s::integer)"] * len(fan_ids))
    params: list = []
    for fid in fan_ids:
        params += [fid, spend.get(fid, Decimal(0)), pledges.get(fid, 0)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Fan._meta.db_table} AS f SET total_spend = f.total_spend + d.spend, pledge_count = f.pledge_count + d.n "
            f"FROM (VALUES {values}) AS d(id, spend, n) "
            f"WHERE f.id = d.id AND f.pledge_count + d.n >= 0",
            params,
        )


def pledges_confirm_chunked(*, campaign: Campaign) -> int:
    """Every active pledge gets the final price and its balance due (exact: quantity × price − deposit)."""
    settled = 0
    table = Pledge._meta.db_table
    while True:
        with transaction.atomic(durable=True):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET status = %s, final_unit_price = %s, "
                    f"balance_due = quantity * %s - deposit_amount, updated_at = %s "
                    f"WHERE id IN (SELECT id FROM {table} WHERE campaign_id = %s AND status = %s "
                    f"ORDER BY id LIMIT %s{' FOR UPDATE' if connection.features.has_select_for_update else ''}) "
                    f"RETURNING fan_id, quantity",
                    [
                        PledgeStatus.CONFIRMED,
                        campaign.final_unit_price,
                        campaign.final_unit_price,
                        timezone.now(),
                        campaign.pk,
                        PledgeStatus.ACTIVE,
                        CHUNK,
                    ],
                )
                rows = cursor.fetchall()
            spend: dict[int, Decimal] = defaultdict(Decimal)
            for fan_id, quantity in rows:
                spend[fan_id] += quantity * campaign.final_unit_price
            _fan_counters_apply(spend, {})
        if not rows:
            return settled
        settled += len(rows)
        _after_chunk(campaign.pk, settled)


def pledges_refund_chunked(
    *, campaign_id: int, from_status: str = PledgeStatus.ACTIVE, reason: str = "close"
) -> int:
    """Refund each pledge's deposit (provider first, no locks held), then mark the chunk refunded."""
    provider = payment_provider()
    done = 0
    last_pk = 0
    while True:
        chunk = list(
            Pledge.objects.filter(campaign_id=campaign_id, status=from_status, pk__gt=last_pk)
            .order_by("pk")
            .values("pk", "fan_id", "deposit_amount", "currency")[:CHUNK]
        )
        if not chunk:
            return done
        last_pk = chunk[-1]["pk"]
        paid = {
            r["pledge_id"]: r["n"]
            for r in LedgerEntry.objects.filter(
                pledge_id__in=[p["pk"] for p in chunk], kind=LedgerKind.CHARGE
            )
            .values("pledge_id")
            .annotate(n=Count("pk"))
            .order_by()
        }
        entries = []
        for p in chunk:
            reference = f"pledge-{p['pk']}-{reason}-refund"
            if p["deposit_amount"] > 0 and paid.get(p["pk"]):
                result = provider.refund(
                    reference=reference,
                    charge_reference=f"pledge-{p['pk']}-charge",
                    amount=p["deposit_amount"],
                    currency=p["currency"],
                )
                entries.append(
                    LedgerEntry(
                        pledge_id=p["pk"],
                        kind=LedgerKind.REFUND,
                        amount=p["deposit_amount"],
                        currency=p["currency"],
                        reference=reference,
                        provider_id=result.provider_id,
                        note=reason,
                    )
                )
        with transaction.atomic(durable=True):
            LedgerEntry.objects.bulk_create(entries, ignore_conflicts=True, batch_size=2000)
            ids = [p["pk"] for p in chunk]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Pledge._meta.db_table} SET status = %s, updated_at = %s "
                    f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND status = %s RETURNING fan_id",
                    [PledgeStatus.REFUNDED, timezone.now(), *ids, from_status],
                )
                counts: dict[int, int] = defaultdict(int)
                for (fan_id,) in cursor.fetchall():
                    counts[fan_id] -= 1
            _fan_counters_apply({}, counts)
        done += len(chunk)
        _after_chunk(campaign_id, done)


def campaign_close(*, campaign_id: int, notify: bool = True) -> str:
    """Close a due group campaign; returns its status. Safe to run any number of times."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.kind != CampaignKind.GROUP or campaign.closed_at is not None:
        return campaign.status
    if campaign.status == CampaignStatus.LIVE:
        if campaign.deadline > timezone.now():
            return campaign.status
        # A pledge still paying its deposit holds quantity: give it a moment, then undo it.
        pledges_pending_sweep(campaign_id=campaign_id, older_than_s=60)
        if Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.PENDING).exists():
            return campaign.status  # beat retries on its next run
        campaign = campaign_decide(campaign_id=campaign_id)
    if campaign.status == CampaignStatus.SUCCEEDED:
        pledges_confirm_chunked(campaign=campaign)
    elif campaign.status == CampaignStatus.FAILED:
        pledges_refund_chunked(campaign_id=campaign_id)
    else:
        return campaign.status
    pledges_cancelled_refund(campaign_id=campaign_id)
    with transaction.atomic(durable=True):
        campaign = Campaign.objects.select_for_update().select_related("shop").get(pk=campaign_id)
        if campaign.closed_at is not None:
            return campaign.status
        campaign.closed_at = timezone.now()
        campaign.save(update_fields=["closed_at"])
        order = campaign_rollup(campaign)
        frame = {
            "type": "campaign.closed",
            "campaign": campaign.pk,
            "status": campaign.status,
            "committed_quantity": campaign.committed_quantity,
            "target_quantity": campaign.target_quantity,
            "final_unit_price": None if campaign.final_unit_price is None else str(campaign.final_unit_price),
            "factory_order": order.pk if order else None,
        }
        # The owner is told on the shop's channel and their own.
        announce([shop_group(campaign.shop_id), user_group(campaign.shop.owner_id)], frame)
        if notify:
            from preorders.tasks import campaign_notify_task

            campaign_notify_task.delay_on_commit(campaign.pk)
    return campaign.status


def _notice_text(campaign: Campaign, pledge: Pledge | None) -> str:
    if campaign.status == CampaignStatus.SUCCEEDED:
        balance = pledge.balance_due if pledge is not None else None
        return _("「%(title)s」成团啦！最终单价 %(price)s %(cur)s，尾款 %(balance)s %(cur)s。") % {
            "title": campaign.title,
            "price": campaign.final_unit_price,
            "cur": campaign.currency,
            "balance": balance if balance is not None else "-",
        }
    return _("「%(title)s」未达到目标，定金已原路退回。") % {"title": campaign.title}


def campaign_notify(*, campaign_id: int, batch: int = 200) -> int:
    """Tell up to `batch` not-yet-told fans with a system message and a campaign card; returns how many remain."""
    campaign = Campaign.objects.select_related("shop").get(pk=campaign_id)
    if campaign.closed_at is None:
        return 0
    settled = PledgeStatus.CONFIRMED if campaign.status == CampaignStatus.SUCCEEDED else PledgeStatus.REFUNDED
    told = CampaignNotice.objects.filter(campaign=campaign, kind=campaign.status).values("fan_id")
    fan_ids = list(
        Pledge.objects.filter(campaign=campaign, status=settled)
        .exclude(fan_id__in=told)
        .values_list("fan_id", flat=True)
        .distinct()
        .order_by("fan_id")[: batch + 1]
    )
    card = campaign_card_build(campaign.shop, {"campaign": campaign.pk})
    for fan_id in fan_ids[:batch]:
        conversation = Conversation.objects.filter(fan_id=fan_id).first()
        pledge = (
            Pledge.objects.filter(campaign=campaign, fan_id=fan_id, status=settled).order_by("pk").first()
        )
        with transaction.atomic(durable=True):
            _notice, created = CampaignNotice.objects.get_or_create(
                campaign=campaign, fan_id=fan_id, kind=campaign.status
            )
            if not created or conversation is None:
                continue
            system_message_post(conversation=conversation, text=_notice_text(campaign, pledge))
            system_message_post(
                conversation=conversation, text="", kind=MessageKind.CAMPAIGN_CARD, payload=card
            )
    return max(0, len(fan_ids) - batch)


def campaigns_close_due() -> list[int]:
    """Beat entry: every group campaign past its deadline that is not fully closed yet."""
    due = list(
        Campaign.objects.filter(kind=CampaignKind.GROUP, closed_at__isnull=True, deadline__lte=timezone.now())
        .exclude(status=CampaignStatus.DRAFT)
        .values_list("pk", flat=True)
        .order_by("deadline", "pk")
    )
    for campaign_id in due:
        try:
            campaign_close(campaign_id=campaign_id)
        except Exception:  # noqa: BLE001 - one broken campaign must not block the others; the next run retries
            logger.exception("closing campaign %s failed", campaign_id)
    return due
