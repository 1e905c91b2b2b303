"""ASGI entry point: Django for HTTP, Channels for /ws/ (origin check, token or session auth)."""

import os
from typing import Any
from urllib.parse import parse_qs

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.DEBUG:
    # Daphne serves no static files; in DEBUG (make demo) the app does. Production serves STATIC_ROOT.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402

from fans.routing import websocket_urlpatterns  # noqa: E402
from fans.ws_auth import OriginAndAuthMiddleware  # noqa: E402


class SessionUnlessToken:
    """The session only for sockets without ?token= (a token wins over a cookie in OriginAndAuthMiddleware):
    Channels' session wrapper inspects the session on every frame a socket is sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.with_session = CookieMiddleware(SessionMiddleware(inner))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]:
            return await self.inner(scope, receive, send)
        return await self.with_session(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SessionUnlessToken(OriginAndAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
