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
