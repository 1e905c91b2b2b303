"""Structured logs (docs/metrics.md): one JSON object a line, with the request id, the websocket connection id
and the Celery task, and no tokens.

- request_id_var / connection_id_var / task_var: contextvars set by core.request_id (HTTP middleware and the
  Celery signals) and core.ws_observe (websockets); ContextFilter copies them onto every record.
- RedactFilter: `token=...` (the websocket's ?token=), `Authorization: Token/Bearer ...` and a bare
  `Token <key>` become `[redacted]` in the message and its arguments, whichever logger wrote it (Django, Celery,
  daphne, uvicorn.access). Daphne's own access log (--access-log) prints the path without its query string.
- JsonFormatter: python-json-logger, with fixed key names.
"""

import contextvars
import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("fansi_request_id", default=None)
connection_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fansi_connection_id", default=None
)
task_var: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("fansi_task", default=None)

REDACTED = "[redacted]"
_PATTERNS = [
    # ?token=… / &token=… / token=… in a query string, a URL or a message (also access_token=, api_token=).
    (re.compile(r"(?i)(\b[\w-]*token=)[^&\s'\"<>]+"), r"\1" + REDACTED),
    # "token": "…" in a logged JSON body or dict repr.
    (re.compile(r"(?i)(['\"][\w-]*token['\"]\s*:\s*['\"])[^'\"]+"), r"\1" + REDACTED),
    # Authorization headers, as a header line, a WSGI key or a dict repr.
    (
        re.compile(r"(?i)((?:authorization|http_authorization)['\"]?\s*[:=,]\s*['\"]?)[^'\"\r\n,}]+"),
        r"\1" + REDACTED,
    ),
    # DRF's scheme: "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "Bearer …".
    (re.compile(r"\b(Token|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Rewrites the record's message (arguments merged in) when it carries a secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a badly formatted record is logged as it is
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class ContextFilter(logging.Filter):
    """Puts the request id, connection id and task on every record (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.connection_id = connection_id_var.get()
        task = task_var.get()
        record.task, record.task_id = task if task else (None, None)
        return True


class JsonFormatter(_JsonFormatter):
    """{"time" (UTC, ISO 8601), "level", "logger", "message", "request_id", "connection_id", "task", "task_id",
    ...extra}; every value redacted, extras included (Django's 4xx lines carry the request with its URL)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s %(connection_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_record, record, message_dict)
        if getattr(record, "task", None):
            log_record["task"] = record.task
            log_record["task_id"] = record.task_id
        else:
            log_record.pop("task", None)
            log_record.pop("task_id", None)
        for key, value in log_record.items():
            if isinstance(value, str):
                log_record[key] = redact(value)
            elif value is not None and not isinstance(value, bool | int | float):
                log_record[key] = redact(str(value))


def logging_config(level: str, fmt: str = "json") -> dict[str, Any]:
    """settings.LOGGING: every line through one console handler with the two filters."""
    handler = {
        "class": "logging.StreamHandler",
        "filters": ["context", "redact"],
        "formatter": "json" if fmt == "json" else "text",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "core.logs.ContextFilter"},
            "redact": {"()": "core.logs.RedactFilter"},
        },
        "formatters": {
            "json": {"()": "core.logs.JsonFormatter"},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        },
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        # uvicorn installs its own handlers (propagate off): its access lines carry the query string.
        "loggers": {
            name: {"handlers": ["console"], "level": level, "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
