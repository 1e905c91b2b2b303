from celery import shared_task

from preorders.services import closing, payments, subscriptions


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
def subscription_cutoffs_run_task() -> None:
    subscriptions.subscription_cutoffs_run()


@shared_task(acks_late=True)
def pledges_pending_sweep_task() -> None:
    payments.pledges_pending_sweep()
