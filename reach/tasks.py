"""Thin Celery wrappers around reach's services; each takes ids and re-reads state."""

from celery import shared_task

from reach.services import deferred_push, digests, push, reminders, scheduled


@shared_task(name="reach.tasks.push_messages_task", ignore_result=True)
def push_messages_task(message_ids: list[int], marketing_ids: list[int] | None = None) -> dict[str, int]:
    # Not acks_late: a push sent twice shows twice on a lock screen; a lost one is caught up by the chat.
    return push.push_for_messages(message_ids=message_ids, marketing_ids=marketing_ids or [])


@shared_task(name="reach.tasks.digests_run_task", ignore_result=True)
def digests_run_task() -> dict[str, int]:
    return digests.digests_run()


@shared_task(name="reach.tasks.digest_send_task", ignore_result=True)
def digest_send_task(user_id: int, conversation_ids: list[int]) -> dict[str, int]:
    return digests.digest_send(user_id=user_id, conversation_ids=conversation_ids)


@shared_task(name="reach.tasks.reminders_fire_due_task", ignore_result=True)
def reminders_fire_due_task() -> dict[str, int]:
    return reminders.reminders_fire_due()


@shared_task(name="reach.tasks.reminder_push_task", ignore_result=True)
def reminder_push_task(reminder_id: int) -> dict[str, int]:
    return reminders.reminder_push(reminder_id=reminder_id)


@shared_task(name="reach.tasks.scheduled_messages_send_due_task", ignore_result=True)
def scheduled_messages_send_due_task() -> dict[str, int]:
    return scheduled.scheduled_messages_send_due()


@shared_task(name="reach.tasks.deferred_pushes_send_due_task", ignore_result=True)
def deferred_pushes_send_due_task() -> dict[str, int]:
    return deferred_push.deferred_pushes_send_due()
