"""ASGI entry point: Django for HTTP, Channels for /ws/ (origin check, token or session auth)."""

import os

from django.core.asgi import get_asgi_application

# A bare `daphne config.asgi:application` runs config.settings.base: embedded, DEBUG off.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.contrib.staticfiles.views import serve as static_serve  # noqa: E402
from django.core.exceptions import SuspiciousFileOperation  # noqa: E402
from django.http import Http404  # noqa: E402
from django.views.static import serve  # noqa: E402


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Static files, found as in DEBUG; a path that climbs out of its folder is not found, not a crash."""

    def serve(self, request):
        try:
            return self.serve_path(request, self.file_path(request.path))
        except SuspiciousFileOperation:
            raise Http404(request.path) from None

    def serve_path(self, request, path: str):
        return static_serve(request, path, insecure=True)


class ProductPicturesHandler(StaticFilesHandler):
    """Public product pictures under MEDIA_URL/products/; chat images stay behind the access-checked API."""

    def get_base_url(self) -> str:
        return f"{settings.MEDIA_URL}products/"

    def serve_path(self, request, path: str):
        return serve(request, path, document_root=settings.MEDIA_ROOT / "products")


if settings.FANSI_SERVE_FILES:
    # Daphne serves no files itself; with nothing in front of it (make demo, tests) the app does.
    django_asgi_app = StaticFilesHandler(ProductPicturesHandler(django_asgi_app))

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from core.ws_observe import WebsocketObserved  # noqa: E402
from fans.chat.routing import websocket_urlpatterns  # noqa: E402
from fans.chat.ws_auth import OriginAndAuthMiddleware, SessionUnlessToken  # noqa: E402

websocket_routes = list(websocket_urlpatterns)
if settings.FANSI_BENCH_ECHO:
    # bench/chat.py's throughput ceiling (bare echo sockets); never routed in a normal deployment.
    from bench.echo_consumer import echo_urlpatterns

    websocket_routes += echo_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Connection id on its log lines, the open-sockets gauge (core/ws_observe.py).
        "websocket": WebsocketObserved(
            SessionUnlessToken(OriginAndAuthMiddleware(URLRouter(websocket_routes)))
        ),
    }
)
