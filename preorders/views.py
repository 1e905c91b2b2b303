"""Factory order export (CSV) and printable page, for platform admins."""

import csv

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.html import format_html, format_html_join

from preorders.models import FactoryOrder
from preorders.selectors import factory_order_list, factory_order_totals


def _order(order_id: int) -> FactoryOrder:
    return get_object_or_404(factory_order_list(), pk=order_id)


@staff_member_required
def factory_order_csv(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(order_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="factory-order-{order.pk}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 (Chinese names) correctly with a BOM
    writer = csv.writer(response)
    writer.writerow(["order", "factory", "product", "window_start", "status", "sku", "variant", "quantity",
                     "deposits", "value", "currency"])
    for line in order.lines.all():
        writer.writerow([order.pk, order.factory_product.factory.name, order.factory_product.name,
                         order.window_start.isoformat(), order.status, line.sku, line.name, line.quantity,
                         line.deposits, line.value, order.currency])
    return response


@staff_member_required
def factory_order_print(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(order_id)
    totals = factory_order_totals(order)
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
        ((line.sku, line.name, line.quantity, line.deposits, line.value) for line in order.lines.all()),
    )
    html = format_html(
        "<!doctype html><html lang=zh><meta charset=utf-8><title>工厂订单 FO-{}</title>"
        "<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}"
        "td,th{{border:1px solid #999;padding:4px 8px}}.n{{text-align:right}}@media print{{button{{display:none}}}}"
        "</style><button onclick='window.print()'>打印 Print</button>"
        "<h1>工厂订单 Factory order FO-{}</h1><p>{} — {}<br>交付周 Delivery week: {} · 状态 Status: {} · MOQ {}</p>"
        "<table><tr><th>SKU</th><th>规格 Variant</th><th>数量 Qty</th><th>定金 Deposits</th><th>货值 Value</th></tr>"
        "{}<tr><th colspan=2>合计 Total</th><th class=n>{}</th><th class=n>{}</th><th class=n>{} {}</th></tr></table>",
        order.pk, order.pk, order.factory_product.factory.name, order.factory_product.name, order.window_start,
        order.get_status_display(), order.factory_product.moq, rows, totals["quantity"], totals["deposits"],
        totals["value"], order.currency,
    )
    return HttpResponse(html)
