"""Request bodies over FANSI_MAX_UPLOAD_MB are refused before anything reads them (issue 17): 413 with a
code for the API, a short page otherwise. nginx refuses them first in deploy/; this holds without it."""

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation import gettext as _


def too_large(request: HttpRequest) -> HttpResponse | None:
    """The 413 for a request whose declared body is over the cap, else None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit_mb = settings.FANSI_MAX_UPLOAD_MB
    if length <= limit_mb * 1024 * 1024:
        return None
    message = _("The upload is larger than %(mb)s MB.") % {"mb": limit_mb}
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "upload_too_large", "message": message, "detail": {"max_bytes": limit_mb * 1024 * 1024}},
            status=413,
        )
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


@sync_and_async_middleware
def upload_limit_middleware(get_response: Callable) -> Callable:
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return too_large(request) or await get_response(request)

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            return too_large(request) or get_response(request)

    return middleware
