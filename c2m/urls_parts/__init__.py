"""URL lists per c2m part (insight, design rounds, forecast)."""

from c2m.urls_parts.design import api as design_api
from c2m.urls_parts.design import pages as design_pages
from c2m.urls_parts.forecast import api as forecast_api
from c2m.urls_parts.forecast import pages as forecast_pages
from c2m.urls_parts.insight import api as insight_api
from c2m.urls_parts.insight import pages as insight_pages

__all__ = [
    "design_api",
    "design_pages",
    "forecast_api",
    "forecast_pages",
    "insight_api",
    "insight_pages",
]
