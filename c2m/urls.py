"""The c2m pages."""

from c2m.urls_parts import design_pages, forecast_pages, insight_pages

urlpatterns = [*insight_pages, *design_pages, *forecast_pages]
