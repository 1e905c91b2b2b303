"""Thin Celery wrappers around the forecast services."""

from celery import shared_task

from c2m.forecast.services import forecasts_snapshot_due


@shared_task(acks_late=True)
def forecasts_snapshot_due_task() -> int:
    return forecasts_snapshot_due()
