"""The service worker, served from the site root so it may control every page."""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(max_age=0, no_cache=True)
def service_worker(request: HttpRequest) -> HttpResponse:
    path = finders.find("fansi/sw.js") or (Path(settings.STATIC_ROOT or "") / "fansi" / "sw.js")
    try:
        body = Path(path).read_bytes()
    except OSError:
        raise Http404 from None
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response
