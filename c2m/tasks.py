"""Thin Celery wrappers around c2m services (STYLE.md): each re-checks state and is safe to run twice."""

from c2m.design.tasks import design_pre_pledges_lapse_due_task, design_rounds_decide_due_task
from c2m.forecast.tasks import forecasts_snapshot_due_task

__all__ = [
    "design_pre_pledges_lapse_due_task",
    "design_rounds_decide_due_task",
    "forecasts_snapshot_due_task",
]
