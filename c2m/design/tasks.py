"""Thin Celery wrappers around the design-round sweeps (beat runs them every minute; each is safe twice)."""

from celery import shared_task

from c2m.design.services import pre_pledges_lapse_due, rounds_decide_due


@shared_task(acks_late=True)
def design_rounds_decide_due_task() -> int:
    return rounds_decide_due()


@shared_task(acks_late=True)
def design_pre_pledges_lapse_due_task() -> int:
    return pre_pledges_lapse_due()
