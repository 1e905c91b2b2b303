"""The c2m API, under /api/: each part keeps its own list so the parts grow apart."""

from c2m.urls_parts import design_api, forecast_api, insight_api

urlpatterns = [*insight_api, *design_api, *forecast_api]
