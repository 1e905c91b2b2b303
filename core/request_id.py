"""The request id: taken from a sane X-Request-ID (nginx sets one, `proxy_set_header X-Request-ID $request_id`)
or made here, put on every log line of the request (core.logs), returned in the X-Request-ID header, and
carried into the Celery tasks the request queues (a message header), so their log lines carry it too."""

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from celery import signals
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from core.logs import request_id_var, task_var

logger = logging.getLogger(__name__)
HEADER = "X-Request-ID"
TASK_HEADER = "fansi_request_id"
# Letters, digits and - _ . : only, at most 128: anything else (spaces, newlines, quotes) is replaced.
SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id_from(value: str | None) -> str:
    if value and SANE.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE: every later middleware's and the view's log lines carry the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(HEADER))
        request.request_id = request_id
        # Left set until request_finished: Django logs a 4xx/5xx after the middleware chain has returned.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


@receiver(request_finished, dispatch_uid="fansi-request-id-clear")
def _request_id_clear(**_kwargs: Any) -> None:
    request_id_var.set(None)


# --- Celery: the id travels in the task message's headers --------------------------------------------
_task_tokens: dict[str, tuple[Any, Any]] = {}


@signals.before_task_publish.connect(weak=False)
def _publish_request_id(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers[TASK_HEADER] = request_id


def task_request_id(task: Any) -> str | None:
    """The id a task was queued with (a real worker: a message header; eager: the caller's context)."""
    request = task.request
    value = getattr(request, TASK_HEADER, None) or (getattr(request, "headers", None) or {}).get(TASK_HEADER)
    return value or request_id_var.get()


@signals.task_prerun.connect(weak=False)
def _task_prerun(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    if task is None or task_id is None:
        return
    _task_tokens[task_id] = (
        request_id_var.set(task_request_id(task)),
        task_var.set((task.name, task_id)),
    )


@signals.task_postrun.connect(weak=False)
def _task_postrun(task_id: str | None = None, **_kwargs: Any) -> None:
    tokens = _task_tokens.pop(task_id or "", None)
    if tokens is None:
        return
    try:
        request_id_var.reset(tokens[0])
        task_var.reset(tokens[1])
    except ValueError:  # set in another context (a pool thread): nothing of the caller's to restore
        request_id_var.set(None)
        task_var.set(None)
