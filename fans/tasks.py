from celery import shared_task

from fans.services import crm


@shared_task(acks_late=True)
def bulk_job_run_task(job_id: int) -> None:
    crm.bulk_job_run(job_id=job_id)


@shared_task(acks_late=True)
def import_apply_task(job_id: int) -> None:
    crm.import_apply(job_id=job_id)
