"""Celery wrappers around the services. Names are kept from before the split, so tasks queued by
the previous release still run."""

from celery import shared_task

from fans.bot import services as bot


@shared_task(name="fans.tasks.bot_on_fan_message_task", acks_late=True)
def bot_on_fan_message_task(message_id: int) -> None:
    bot.bot_on_fan_message(message_id=message_id)


@shared_task(name="fans.tasks.broadcast_run_task", acks_late=True)
def broadcast_run_task(broadcast_id: int) -> None:
    bot.broadcast_run(broadcast_id=broadcast_id)


@shared_task(name="fans.tasks.broadcasts_sweep_task")
def broadcasts_sweep_task() -> None:
    bot.broadcasts_sweep()


@shared_task(name="fans.tasks.broadcasts_due_task")
def broadcasts_due_task() -> None:
    bot.broadcasts_due()


@shared_task(name="fans.tasks.broadcast_deferred_send_task")
def broadcast_deferred_send_task() -> None:
    bot.broadcast_deferred_send()
