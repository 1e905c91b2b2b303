"""The insight report as a CSV (one row per cell) and a PDF with Noto Sans SC embedded, from the same
report dict, so both keep the privacy floor the report already applied."""

import csv
import io
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

from django.utils.translation import gettext as _

from fans.crm.csvio import cell_safe

FONT_NAME = "NotoSansSC"


def font_path() -> str:
    import justmytype_intl_cjk

    return os.path.join(
        os.path.dirname(justmytype_intl_cjk.__file__), "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
    )


@cache
def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    # Embedded as a subset: the file reads the same on a machine with no Chinese font.
    pdfmetrics.registerFont(TTFont(FONT_NAME, font_path()))
    return FONT_NAME


def _shown(value: Any) -> Any:
    return _("suppressed (fewer than k fans)") if value is None else value


def insight_rows(report: dict[str, Any]) -> Iterator[list[Any]]:
    """section, key, sub key, value: a long table a spreadsheet can pivot."""
    yield [_("Section"), _("Item"), _("Detail"), _("Value")]
    campaign = report["campaign"]
    yield ["campaign", cell_safe(campaign["title"]), cell_safe(campaign["product"]), campaign["id"]]
    yield ["privacy", "k", "", report["k"]]
    yield ["privacy", "suppressed", "", report["suppressed"]]
    for v in report["variants"]:
        yield ["variant_units", cell_safe(v["sku"]), cell_safe(v["name"]), _shown(v["units"])]
        for point in v["series"]:
            yield ["variant_day", cell_safe(v["sku"]), point["day"], _shown(point["units"])]
    for attribute in report["attributes"]:
        for value in attribute["values"]:
            yield ["attribute", attribute["position"], cell_safe(value["value"]), _shown(value["units"])]
    for group, tags in report["tag_portrait"].items():
        for tag, share in tags.items():
            yield ["tag_share", group, tag, share]
    for r in report["requests"]:
        yield ["request", cell_safe(r["phrase"]), "", r["count"]]
    for r in report["after_sales"]:
        yield ["after_sales", cell_safe(r["reason"]), "", r["count"]]
    for stars, n in report["stars"].items():
        yield ["stars", stars, "", _shown(n)]


def insight_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(insight_rows(report))
    # A BOM so Excel on a Chinese Windows opens it as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def insight_pdf(report: dict[str, Any], *, factory_name: str) -> bytes:
    """An A4 report: headings, tables and a bar per demand cell, all text in the embedded CJK font."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_font()
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14)
    h1 = ParagraphStyle("h1", parent=base, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)
    muted = ParagraphStyle("muted", parent=base, fontSize=8, textColor=colors.grey)

    def table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
        t = Table([[Paragraph(str(c), base) for c in row] for row in rows], colWidths=widths, hAlign="LEFT")
        t.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), font),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f3f3")),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dddddd")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    campaign = report["campaign"]
    story: list[Any] = [
        Paragraph(f"{factory_name} · {_('Insight report')}", h1),
        Paragraph(f"{campaign['title']} · {campaign['product']}", base),
        Paragraph(
            _("Aggregates only: any figure backed by fewer than %(k)s fans is suppressed (%(n)s suppressed).")
            % {"k": report["k"], "n": report["suppressed"]},
            muted,
        ),
        Spacer(1, 4 * mm),
        Paragraph(_("Demand by variant"), h2),
        table(
            [[_("Variant"), "SKU", _("Units")]]
            + [[v["name"], v["sku"], _shown(v["units"])] for v in report["variants"]],
            [60 * mm, 50 * mm, 50 * mm],
        ),
    ]
    days = report["days"]
    if days:
        story += [Paragraph(_("Units per day"), h2)]
        rows = [[_("Day"), *[v["name"] for v in report["variants"]]]]
        for i, day in enumerate(days):
            rows.append([day, *[_shown(v["series"][i]["units"]) for v in report["variants"]]])
        story.append(table(rows))
    if report["attributes"]:
        story.append(Paragraph(_("Demand by attribute"), h2))
        rows = [[_("Attribute"), _("Value"), _("Units")]]
        for a in report["attributes"]:
            rows += [[a["position"], v["value"], _shown(v["units"])] for v in a["values"]]
        story.append(table(rows))
    story.append(Paragraph(_("Who pledged: tag shares"), h2))
    labels = report.get("tag_labels", {})
    rows = [[_("Tag group"), _("Tag"), _("Share")]]
    for group, tags in report["tag_portrait"].items():
        names = labels.get(group, {})
        for tag, share in tags.items():
            rows.append([names.get("name", group), names.get("tags", {}).get(tag, tag), f"{share:.0%}"])
    story.append(table(rows) if len(rows) > 1 else Paragraph(_("Not enough fans to show."), muted))
    story.append(Paragraph(_("What fans asked for in chat"), h2))
    rows = [[_("Request"), _("Fans")]] + [[r["phrase"], r["count"]] for r in report["requests"]]
    story.append(
        table(rows, [120 * mm, 40 * mm]) if len(rows) > 1 else Paragraph(_("Not enough fans to show."), muted)
    )
    story.append(Paragraph(_("After-sales reasons"), h2))
    rows = [[_("Reason"), _("Fans")]] + [[r["reason"], r["count"]] for r in report["after_sales"]]
    story.append(
        table(rows, [120 * mm, 40 * mm]) if len(rows) > 1 else Paragraph(_("Not enough fans to show."), muted)
    )
    story.append(Paragraph(_("Review stars"), h2))
    story.append(
        table([[_("Stars"), _("Reviews")]] + [[f"{s}★", _shown(n)] for s, n in report["stars"].items()])
    )
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, title=f"{factory_name} {campaign['title']}", leftMargin=18 * mm, rightMargin=18 * mm
    )
    doc.build(story)
    return out.getvalue()
