"""The insight report on the factory's board (a section preorders' board page asks for) and on a page for
the campaign's team and the platform's staff. Charts are SVG drawn here, server-side."""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from c2m.insight.access import access_campaign_insight
from c2m.insight.selectors import factory_insight_campaigns, insight_report
from core.errors import Forbidden, NotFound
from preorders.models import Campaign
from shops.models import Factory

COLOURS = ["#f0643c", "#2e86de", "#2e9e5b", "#8e44ad", "#e1a100", "#16a085"]
CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 320, 140, 28, 18, 8
MAX_CAMPAIGNS = 30


def demand_chart(report: dict[str, Any]) -> dict[str, Any]:
    """Stacked bars of units per day by variant (suppressed cells left out, their days marked)."""
    days = report["days"]
    variants = report["variants"]
    if not days:
        return {"bars": [], "legend": [], "width": CHART_W, "height": CHART_H}
    totals = [sum(v["series"][i]["units"] or 0 for v in variants) for i in range(len(days))]
    top = max(max(totals), 1)
    plot_w, plot_h = CHART_W - PAD_L - 4, CHART_H - PAD_B - PAD_T
    slot = plot_w / len(days)
    bar_w = max(2.0, min(28.0, slot * 0.7))
    bars, marks, labels = [], [], []
    for i, day in enumerate(days):
        x = PAD_L + i * slot + (slot - bar_w) / 2
        y = PAD_T + plot_h
        for n, v in enumerate(variants):
            units = v["series"][i]["units"]
            if units is None:
                marks.append({"x": round(x + bar_w / 2, 1), "y": PAD_T + plot_h - 3})
                continue
            if not units:
                continue
            h = plot_h * units / top
            y -= h
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(bar_w, 1),
                    "h": round(h, 1),
                    "fill": COLOURS[n % len(COLOURS)],
                    "title": f"{day} {v['name']}: {units}",
                }
            )
        if i in (0, len(days) - 1) or len(days) <= 7:
            labels.append({"x": round(x + bar_w / 2, 1), "text": day[5:]})
    legend = [{"name": v["name"], "fill": COLOURS[n % len(COLOURS)]} for n, v in enumerate(variants)]
    return {
        "bars": bars,
        "marks": marks,
        "labels": labels,
        "legend": legend,
        "top": top,
        "width": CHART_W,
        "height": CHART_H,
        "base_y": PAD_T + plot_h,
        "label_y": CHART_H - 4,
        "pad_l": PAD_L,
        "top_y": PAD_T + 8,
    }


def portrait_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    labels = report.get("tag_labels", {})
    out = []
    for group, tags in report["tag_portrait"].items():
        names = labels.get(group, {})
        out.append(
            {
                "code": group,
                "name": names.get("name", group),
                "tags": [
                    {"code": tag, "name": names.get("tags", {}).get(tag, tag), "percent": round(share * 100)}
                    for tag, share in sorted(tags.items(), key=lambda item: -item[1])
                ],
            }
        )
    return out


def star_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    shown = [n for n in report["stars"].values() if n]
    top = max(shown, default=0) or 1
    return [
        {"stars": s, "count": n, "percent": round(100 * (n or 0) / top)}
        for s, n in sorted(report["stars"].items(), reverse=True)
    ]


def insight_context(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "report": report,
        "chart": demand_chart(report),
        "portrait": portrait_rows(report),
        "star_rows": star_rows(report),
    }


def insight_board_section(request: HttpRequest, factory: Factory, token: str) -> str:
    """The board's insight section: the factory's campaigns to pick from and the chosen one's report."""
    campaigns = list(factory_insight_campaigns(factory=factory)[:MAX_CAMPAIGNS])
    chosen = None
    raw = request.GET.get("insight", "")
    if raw.isdigit():
        chosen = next((c for c in campaigns if c.pk == int(raw)), None)
    chosen = chosen or (campaigns[0] if campaigns else None)
    context: dict[str, Any] = {"token": token, "campaigns": campaigns, "chosen": chosen}
    if chosen is not None:
        context.update(insight_context(insight_report(campaign=chosen)))
        query = f"?campaign={chosen.pk}"
        context["pdf_url"] = reverse("api-factory-board-insight-pdf", args=[token]) + query
        context["csv_url"] = reverse("api-factory-board-insight-csv", args=[token]) + query
    return SafeString(render_to_string("c2m/insight_board_section.html", context, request=request))


@login_required
def campaign_insight_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The same report for the campaign's owner or managers and the platform's staff."""
    try:
        campaign = access_campaign_insight(request.user, campaign_id)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    report = insight_report(campaign=campaign)
    return render(
        request,
        "c2m/campaign_insight.html",
        {
            **insight_context(report),
            "campaign": campaign,
            "api_url": reverse("api-campaign-insight", args=[campaign.pk]),
        },
    )


def insight_panel(request: HttpRequest, campaign: Campaign) -> SafeString | str:
    """The owner's campaign page links to the insight report once the campaign has pledgers (not on a draft)."""
    if campaign.status == "draft":
        return ""
    return render_to_string(
        "c2m/_insight_panel.html",
        {"page_url": reverse("campaign-insight", args=[campaign.pk]), "k": settings.FANSI_INSIGHT_K},
        request=request,
    )
