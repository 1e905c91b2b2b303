"""Dispatching Celery tasks after commit, by name, so a service never imports its own task module.

A broker that is down must not fail the request whose rows are already committed: the dispatch is
logged, and the row the task works on stays in the database for the app's sweeper to dispatch again.
"""

import functools
import logging
from typing import Any

from celery import current_app
from django.db import transaction

from core.errors import UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)


def task_dispatch(name: str, *args: Any) -> bool:
    """Send the registered task now; False when the broker is unreachable."""
    try:
        current_app.tasks[name].delay(*args)
    except BROKER_ERRORS as exc:
        logger.warning("task %s%r not dispatched, the sweeper will retry: %r", name, args, exc)
        return False
    return True


def task_dispatch_on_commit(name: str, *args: Any) -> None:
    transaction.on_commit(functools.partial(task_dispatch, name, *args))


# What the broker being unreachable raises (the OS-level errors too, for brokers other than Redis).
BROKER_ERRORS = (*UNAVAILABLE_ERRORS, ConnectionError, TimeoutError)
