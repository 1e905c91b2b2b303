"""Thin Celery wrappers around the journeys services (beat entries in config/settings/base.py)."""

from celery import shared_task

from journeys.services import runner, triggers


@shared_task(name="journeys.tasks.journeys_enroll_task", ignore_result=True)
def journeys_enroll_task() -> dict[str, int]:
    return triggers.journeys_enroll()


@shared_task(name="journeys.tasks.journeys_advance_task", ignore_result=True)
def journeys_advance_task() -> dict[str, int]:
    return runner.journeys_advance()
