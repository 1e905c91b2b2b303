"""Celery wrappers around the services. Names are kept from before the split, so tasks queued by
the previous release still run."""

from celery import shared_task

from fans.crm import services as crm


@shared_task(name="fans.tasks.bulk_job_run_task", acks_late=True)
def bulk_job_run_task(job_id: int) -> None:
    crm.bulk_job_run(job_id=job_id)


@shared_task(name="fans.tasks.import_apply_task", acks_late=True)
def import_apply_task(job_id: int) -> None:
    crm.import_apply(job_id=job_id)


@shared_task(name="fans.tasks.import_check_task", acks_late=True)
def import_check_task(job_id: int) -> None:
    crm.import_check(job_id=job_id)


@shared_task(name="fans.tasks.jobs_sweep_task")
def jobs_sweep_task() -> None:
    crm.jobs_sweep()


@shared_task(name="fans.crm.tasks.lifecycle_nightly_task")
def lifecycle_nightly_task() -> None:
    """Every shop's lifecycle tags (beat, nightly). Safe to re-run: a run that changes nothing writes nothing."""
    from fans.crm.lifecycle import lifecycle_recompute_all

    lifecycle_recompute_all()


@shared_task(name="fans.crm.tasks.lifecycle_recompute_shop_task", acks_late=True)
def lifecycle_recompute_shop_task(shop_id: int) -> None:
    """ "Recompute now" from the shop settings page."""
    from fans.crm.lifecycle import lifecycle_recompute
    from fans.crm.models import LifecycleSettings

    try:
        lifecycle_recompute(shop_id)
    except Exception:
        # The page stops waiting; the last good result stays shown and the nightly run tries again.
        LifecycleSettings.objects.filter(shop_id=shop_id).update(requested_at=None)
        raise
