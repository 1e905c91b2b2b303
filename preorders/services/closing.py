"""Closing group campaigns at their deadline: decide, settle every pledge, tell everyone, roll up.

Each step is safe to rerun and to resume after a crash: the outcome is decided once under the campaign
lock; pledges are settled in chunks guarded by their status (preorders.services.settlement); refunds use
one provider reference per pledge and a unique ledger reference; notices are unique per (campaign, fan);
the roll-up is unique per campaign. So running the close twice, or again after it died half-way, ends in
the same state.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fans.chat.models import Conversation, MessageKind
from fans.chat.services import system_message_post
from preorders.models import Campaign, CampaignKind, CampaignNotice, CampaignStatus, Pledge, PledgeStatus
from preorders.selectors import campaign_tiers, unit_price_at
from preorders.services.campaigns import campaign_card_build
from preorders.services.events import closed_announce
from preorders.services.notices import order_card
from preorders.services.payments import pledges_cancelled_refund, pledges_pending_sweep
from preorders.services.settlement import CHUNK, pledges_confirm_chunked, pledges_refund_chunked
from preorders.services.tier_credits import tier_credits_post

logger = logging.getLogger(__name__)


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


def campaign_close(*, campaign_id: int, notify: bool = True) -> str:
    """Close a due group campaign; returns its status. Safe to run any number of times."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.kind != CampaignKind.GROUP or campaign.closed_at is not None:
        return campaign.status
    if campaign.status == CampaignStatus.LIVE and campaign.deadline > timezone.now():
        return campaign.status
    # A pledge still paying its deposit holds quantity: give it a moment, then undo it (also after a
    # cancel, which decides before the deadline: preorders.services.campaign_manage).
    pledges_pending_sweep(campaign_id=campaign_id, older_than_s=60)
    if Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.PENDING).exists():
        return campaign.status  # beat retries on its next run
    if campaign.status == CampaignStatus.LIVE:
        campaign = campaign_decide(campaign_id=campaign_id)
        # A reservation that passed its guard (live, before the deadline) while we looked above committed
        # before campaign_decide got the row lock; from now on the guard refuses every new one. So the pending
        # pledges are final here: wait for them too, or one paid after the confirm stays active forever.
        if Pledge.objects.filter(campaign_id=campaign_id, status=PledgeStatus.PENDING).exists():
            return campaign.status  # _close_settled or beat's next run finishes the close
    # CHUNK and _after_chunk are read at call time, so tests can shrink the chunks and break a close.
    if campaign.status == CampaignStatus.SUCCEEDED:
        pledges_confirm_chunked(campaign=campaign, chunk_size=CHUNK, on_chunk=_after_chunk)
    elif campaign.status == CampaignStatus.FAILED:
        pledges_refund_chunked(campaign_id=campaign_id, chunk_size=CHUNK, on_chunk=_after_chunk)
    else:
        return campaign.status
    pledges_cancelled_refund(campaign_id=campaign_id)
    if campaign.status == CampaignStatus.SUCCEEDED:
        tier_credits_post(campaign=campaign)
    with transaction.atomic(durable=True):
        campaign = Campaign.objects.select_for_update().select_related("shop").get(pk=campaign_id)
        if campaign.closed_at is not None:
            return campaign.status
        campaign.closed_at = timezone.now()
        campaign.save(update_fields=["closed_at"])
        # The factory order waits for the balance: it is built from paid units after the balance
        # deadline (preorders.services.balance, then campaign_after_lapse).
        closed_announce(campaign, None)
        if notify:
            from preorders.tasks import campaign_notify_task

            campaign_notify_task.delay_on_commit(campaign.pk)
    return campaign.status


def _notice_text(campaign: Campaign, pledge: Pledge | None) -> str:
    if campaign.status == CampaignStatus.SUCCEEDED:
        balance = pledge.balance_due if pledge is not None else None
        if pledge is not None and pledge.status == PledgeStatus.PAID:
            return _("「%(title)s」成团啦！最终单价 %(price)s %(cur)s，您已付清。") % {
                "title": campaign.title,
                "price": campaign.final_unit_price,
                "cur": campaign.currency,
            }
        deadline = (
            timezone.localtime(campaign.balance_deadline).strftime("%m-%d %H:%M")
            if campaign.balance_deadline
            else "-"
        )
        return _(
            "「%(title)s」成团啦！最终单价 %(price)s %(cur)s，请在 %(deadline)s 前支付尾款 %(balance)s %(cur)s。"
        ) % {
            "title": campaign.title,
            "price": campaign.final_unit_price,
            "cur": campaign.currency,
            "balance": balance if balance is not None else "-",
            "deadline": deadline,
        }
    if campaign.cancelled_at is not None:
        return _(
            "“%(title)s” was cancelled by the shop. The %(amount)s %(cur)s you paid is refunded in full, "
            "the way you paid; it usually arrives within 1–3 working days."
        ) % {
            "title": campaign.title,
            "amount": pledge.deposit_amount if pledge is not None else "-",
            "cur": campaign.currency,
        }
    return _("「%(title)s」未达到目标，定金已原路退回。") % {"title": campaign.title}


def campaign_notify(*, campaign_id: int, batch: int = 200) -> int:
    """Tell up to `batch` not-yet-told fans with a system message and a campaign card; returns how many remain."""
    campaign = Campaign.objects.select_related("shop").get(pk=campaign_id)
    if campaign.closed_at is None:
        return 0
    settled = (
        [PledgeStatus.CONFIRMED, PledgeStatus.PAID, PledgeStatus.LAPSED]
        if campaign.status == CampaignStatus.SUCCEEDED
        else [PledgeStatus.REFUNDED]
    )
    told = CampaignNotice.objects.filter(campaign=campaign, kind=campaign.status).values("fan_id")
    fan_ids = list(
        Pledge.objects.filter(campaign=campaign, status__in=settled)
        .exclude(fan_id__in=told)
        .values_list("fan_id", flat=True)
        .distinct()
        .order_by("fan_id")[: batch + 1]
    )
    card = campaign_card_build(campaign.shop, {"campaign": campaign.pk})
    for fan_id in fan_ids[:batch]:
        conversation = Conversation.objects.filter(fan_id=fan_id).first()
        pledge = (
            Pledge.objects.filter(campaign=campaign, fan_id=fan_id, status__in=settled)
            .select_related("campaign")
            .order_by("pk")
            .first()
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
            if pledge is not None and pledge.status == PledgeStatus.CONFIRMED:
                # One tap to pay the balance (尾款).
                system_message_post(
                    conversation=conversation,
                    text=_notice_text(campaign, pledge),
                    kind=MessageKind.ORDER_CARD,
                    payload=order_card(pledge, "balance_due"),
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
