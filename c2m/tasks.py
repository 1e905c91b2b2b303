"""Thin Celery wrappers around c2m services (STYLE.md): each re-checks state and is safe to run twice."""

from c2m.forecast.tasks import forecasts_snapshot_due_task

__all__ = ["forecasts_snapshot_due_task"]
