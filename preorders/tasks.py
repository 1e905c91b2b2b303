from celery import shared_task

from preorders.services import (
    after_sales,
    balance,
    closing,
    cycle_charging,
    factory_orders,
    fulfilment,
    late_compensation,
    notices,
    payments,
    release,
    spend,
    subscriptions,
)


@shared_task(acks_late=True)
def campaigns_close_due_task() -> None:
    closing.campaigns_close_due()


@shared_task(acks_late=True)
def campaign_close_task(campaign_id: int) -> None:
    closing.campaign_close(campaign_id=campaign_id)


@shared_task(acks_late=True)
def campaign_notify_task(campaign_id: int) -> None:
    if closing.campaign_notify(campaign_id=campaign_id) > 0:
        campaign_notify_task.delay(campaign_id)


@shared_task(acks_late=True)
def campaign_extended_notify_task(campaign_id: int) -> None:
    from preorders.services.campaign_manage import campaign_extended_notify

    if campaign_extended_notify(campaign_id=campaign_id) > 0:
        campaign_extended_notify_task.delay(campaign_id)


@shared_task(acks_late=True)
def subscription_cutoffs_run_task() -> None:
    subscriptions.subscription_cutoffs_run()


@shared_task(acks_late=True)
def pledges_pending_sweep_task() -> None:
    payments.pledges_pending_sweep()


@shared_task(acks_late=True)
def balance_lapses_due_task() -> None:
    balance.balance_lapses_due()


@shared_task(acks_late=True)
def balance_reminders_run_task() -> None:
    balance.balance_reminders_run()


@shared_task(acks_late=True)
def pledge_tell_task(pledge_id: int, what: str) -> None:
    notices.pledge_tell(pledge_id=pledge_id, what=what)


@shared_task(acks_late=True)
def pledges_tell_task(pledge_ids: list[int], what: str) -> None:
    """Many fans told the same step in one batched append (once each: a rerun tells nobody twice)."""
    notices.pledges_tell_many(pledge_ids=pledge_ids, what=what)


@shared_task(acks_late=True)
def campaign_after_lapse_task(campaign_id: int) -> None:
    """Tell the lapsed fans, then build the factory order from paid units (or wait for the owner)."""
    from preorders.models import Campaign, LapseRule, PledgeStatus

    campaign = Campaign.objects.get(pk=campaign_id)
    what = "lapsed_refund" if campaign.lapse_rule == LapseRule.REFUND else "lapsed_forfeit"
    while notices.pledges_tell(campaign_id=campaign_id, status=PledgeStatus.LAPSED, what=what) > 0:
        pass
    factory_orders.campaign_after_lapse(campaign_id=campaign_id)


@shared_task(acks_late=True)
def cycle_charge_task(cycle_id: int) -> None:
    cycle_charging.cycle_charge_run(cycle_id=cycle_id)


@shared_task(acks_late=True)
def dunning_run_task() -> None:
    cycle_charging.dunning_run()


@shared_task(acks_late=True)
def deliveries_tell_task(items: list[list]) -> None:
    """Dunning notices for many boxes, in one batched append."""
    cycle_charging.deliveries_tell_many([(int(pk), str(what)) for pk, what in items])


@shared_task(acks_late=True)
def delivery_tell_task(delivery_id: int, what: str) -> None:
    cycle_charging.delivery_tell(delivery_id=delivery_id, what=what)


@shared_task(acks_late=True)
def cycle_rollup_if_settled_task(cycle_id: int) -> None:
    cycle_charging.cycle_rollup_if_settled(cycle_id=cycle_id)


@shared_task(acks_late=True)
def factory_order_releases_sweep_task() -> None:
    release.factory_order_releases_sweep()


@shared_task(acks_late=True)
def shipment_tell_task(shipment_id: int, what: str) -> None:
    fulfilment.shipment_tell(shipment_id=shipment_id, what=what)


@shared_task(acks_late=True)
def shipments_autoconfirm_run_task() -> None:
    fulfilment.shipments_autoconfirm_run()


@shared_task(acks_late=True)
def late_compensation_due_task() -> None:
    """慢就赔 at ship_by, and any after-sales refund a crash left unpaid."""
    late_compensation.late_compensation_due()
    after_sales.after_sales_payouts_sweep()


@shared_task(acks_late=True)
def after_sales_tell_task(request_id: int, what: str) -> None:
    after_sales.after_sales_tell(request_id=request_id, what=what)


@shared_task(acks_late=True)
def price_protection_due_task() -> None:
    """贵就赔: the product got cheaper within 30 days of a close; paid fans get the difference back."""
    from preorders.services.price_protection import price_protection_due

    price_protection_due()


@shared_task(acks_late=True)
def topups_due_task() -> None:
    """Top-ups from the waitlist whose offers are paid or expired: order, or back to the owner."""
    from preorders.services.waitlist import topups_due

    topups_due()


@shared_task(acks_late=True)
def pledges_spend_refresh_task(pledge_ids: list[int]) -> None:
    spend.pledges_spend_refresh(pledge_ids=pledge_ids)


@shared_task(acks_late=True)
def fans_spend_sweep_task() -> None:
    spend.fans_spend_sweep()


@shared_task(acks_late=True)
def factory_scorecards_recompute_task() -> None:
    from preorders.scorecards import scorecards_recompute

    scorecards_recompute()
