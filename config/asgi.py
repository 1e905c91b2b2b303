"""ASGI entry point: Django for HTTP, Channels for /ws/ (origin check, token or session auth)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.DEBUG:
    # Daphne serves no static files; in DEBUG (make demo) the app does. Production serves STATIC_ROOT.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from fans.chat.routing import websocket_urlpatterns  # noqa: E402
from fans.chat.ws_auth import OriginAndAuthMiddleware, SessionUnlessToken  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SessionUnlessToken(OriginAndAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
