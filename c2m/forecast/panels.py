"""The forecast panel on the owner's campaign page (filled into preorders.hooks.campaign_panels in c2m ready()):
the live forecast on a draft, the launch snapshot while live, forecast against actual after the close."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from c2m.forecast.services import campaign_forecast_view
from preorders.models import Campaign

ROW_H, BAR_H, LABEL_W, CHART_W, VALUE_W = 34, 12, 0, 300, 0


def forecast_chart_rows(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """SVG geometry per variant on one shared scale: the interval band, the expected tick, the actual bar."""
    rows = body["variants"]
    top = max([1.0] + [float(r["high"]) for r in rows] + [float(r.get("actual", 0)) for r in rows]) * 1.1

    def x(value: float) -> float:
        return round(CHART_W * float(value) / top, 1)

    out = []
    for i, r in enumerate(rows):
        y = i * ROW_H + 18
        out.append(
            {
                **r,
                "y": y,
                "label_y": y - 5,
                "band_x": x(r["low"]),
                "band_w": max(x(r["high"]) - x(r["low"]), 2.0),
                "tick_x": x(r["expected"]),
                "actual_w": x(r["actual"]) if "actual" in r else None,
                "inside": ("actual" in r) and r["low"] <= r["actual"] <= r["high"],
            }
        )
    return out, len(rows) * ROW_H + 6


def forecast_panel(request: HttpRequest, campaign: Campaign) -> SafeString:
    body = campaign_forecast_view(campaign)
    rows, height = forecast_chart_rows(body)
    return render_to_string(
        "c2m/_forecast_panel.html",
        {
            "campaign": campaign,
            "forecast": body,
            "rows": rows,
            "height": height,
            "width": CHART_W,
            "bar_h": BAR_H,
        },
        request=request,
    )
