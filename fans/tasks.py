from celery import shared_task

from fans.services import bot, crm


@shared_task(acks_late=True)
def bulk_job_run_task(job_id: int) -> None:
    crm.bulk_job_run(job_id=job_id)


@shared_task(acks_late=True)
def import_apply_task(job_id: int) -> None:
    crm.import_apply(job_id=job_id)


@shared_task(acks_late=True)
def bot_on_fan_message_task(message_id: int) -> None:
    bot.bot_on_fan_message(message_id=message_id)


@shared_task(acks_late=True)
def broadcast_run_task(broadcast_id: int) -> None:
    bot.broadcast_run(broadcast_id=broadcast_id)
