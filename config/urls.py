from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import healthz, readyz
from shops.api_tokens import ObtainTokenApi

urlpatterns = [
    # --- deploy (issue 17): liveness and readiness probes (core/health.py) ---
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # --- end deploy ---
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # The strings the page scripts show (gettext() in static/fansi/*.js), in the request's language.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    # Throttled by django-axes, tokens expire (issue 17); rotation is api/auth/token/rotate/ (shops.api_urls).
    path("api/auth/token/", ObtainTokenApi.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("payments.api_urls")),
    path("api/", include("shops.api_urls")),
    path("api/", include("fans.chat.api_urls")),
    path("api/", include("fans.crm.api_urls")),
    path("api/", include("fans.bot.api_urls")),
    path("api/", include("preorders.api_urls")),
    path("api/", include("c2m.api_urls")),
    path("api/", include("recommend.api_urls")),
    path("api/", include("reach.api_urls")),
    path("api/", include("journeys.api_urls")),  # journeys (issue 16 part 5)
    path("", include("recommend.urls")),
    path("", include("shops.urls")),
    path("", include("fans.chat.urls")),
    path("", include("fans.crm.urls")),
    path("", include("fans.bot.urls")),
    path("", include("preorders.urls")),
    path("", include("c2m.urls")),
    path("", include("reach.urls")),
    path("", include("journeys.urls")),  # journeys (issue 16 part 5)
]
if settings.DEBUG:
    # Only public product pictures; chat images go through the access-checked API.
    urlpatterns += [re_path(r"^media/(?P<path>products/.+)$", serve, {"document_root": settings.MEDIA_ROOT})]
