"""Domain errors with stable codes, and the one DRF handler that renders every API error.

Every error body is {"code", "message", "detail"}; websockets send the same code in an error frame.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class DomainError(Exception):
    code = "invalid"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_message = _("The request could not be processed.")

    def __init__(self, message: Any = None, *, code: str | None = None, detail: Any = None) -> None:
        self.message = str(message if message is not None else self.default_message)
        if code:
            self.code = code
        self.detail = detail
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class Invalid(DomainError):
    code = "invalid"
    status = status.HTTP_400_BAD_REQUEST
    default_message = _("The input is not valid.")


class TooLong(Invalid):
    code = "too_long"
    default_message = _("The text is too long.")


class NotFound(DomainError):
    code = "not_found"
    status = status.HTTP_404_NOT_FOUND
    default_message = _("Not found.")


class Forbidden(DomainError):
    code = "forbidden"
    status = status.HTTP_403_FORBIDDEN
    default_message = _("You are not allowed to do that.")


class Conflict(DomainError):
    code = "conflict"
    status = status.HTTP_409_CONFLICT
    default_message = _("The request conflicts with the current state.")


class Unprocessable(DomainError):
    code = "unprocessable"
    status = status.HTTP_422_UNPROCESSABLE_ENTITY


class RateLimited(DomainError):
    code = "rate_limited"
    status = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = _("Too many messages; please slow down.")


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = _("A service this needs is unavailable; please try again in a moment.")


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, RedisConnectionError, RedisTimeoutError)


# Redis (cache, channel layer) or the Celery broker being unreachable: a call site that can do without it
# catches these and degrades; anywhere else the API answers a coded 503, never an HTML 500.
UNAVAILABLE_ERRORS = _unavailable_errors()
RETRY_AFTER_S = 5


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "invalid",
    exceptions.ValidationError: "invalid",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key in ("non_field_errors", "detail") else f"{key}: {inner}"
    return str(detail)


def _bad_input(exc: Exception) -> DomainError | None:
    """Errors that untrusted input provokes below the serializers (nesting past the recursion limit, numbers
    past a column or float range, text that cannot be encoded): a coded 400, never a 500. core.inputs refuses
    most of them earlier, with a more precise message; this is the net under every endpoint."""
    from decimal import InvalidOperation

    from django.db import DataError

    if isinstance(exc, RecursionError):
        return Invalid(_("The input is nested too deeply."), code="too_deep")
    if isinstance(exc, OverflowError | InvalidOperation):
        return Invalid(_("A number is out of range."), code="out_of_range")
    if isinstance(exc, UnicodeError):
        return Invalid(_("The text holds characters that are not valid Unicode."), code="invalid_text")
    if isinstance(exc, DataError):
        logger.info("answered 400 for data the database refused: %r", exc)
        return Invalid(
            _("A value does not fit: a number is out of range or a text too long."), code="out_of_range"
        )
    return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    bad = _bad_input(exc)
    if bad is not None:
        exc = bad
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, UNAVAILABLE_ERRORS):
        logger.warning("answered 503, a service is down: %r", exc)
        return Response(
            ServiceUnavailable().as_dict(),
            status=ServiceUnavailable.status,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    from rest_framework.views import exception_handler  # here: DRF's views load the parsers (core.inputs)

    response = exception_handler(exc, context)
    if response is None:
        return None
    # A DRF exception of ours may name its own code (core.tokens.TokenExpired: token_expired).
    code = getattr(exc, "fansi_code", None) or next(
        (c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error"
    )
    detail = response.data
    if isinstance(detail, dict) and set(detail) == {"detail"}:
        detail = None
    message = _first_message(exc.detail) if hasattr(exc, "detail") else str(exc)
    response.data = {"code": code, "message": message, "detail": detail}
    return response
