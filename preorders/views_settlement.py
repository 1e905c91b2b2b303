"""Settlement pages and CSV exports: per campaign and per shop for the owner and managers, and the
factory's statement behind its signed board link (aggregates only: never a fan)."""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from core.errors import Forbidden, NotFound
from fans.crm.csvio import cell_safe
from payments.models import Account
from preorders.access import access_campaign_to_manage
from preorders.api import board_factory
from preorders.models import Campaign
from preorders.statements import (
    ACCOUNTS,
    FIGURE_LABELS,
    FIGURES,
    campaign_breakdown,
    campaign_statement,
    campaign_transactions,
    campaign_transactions_recent,
    factory_statement,
    money_str,
    shop_statement,
    statement_figures,
)
from preorders.views import _membership, _my_shops
from shops.roles import is_managing


class _Echo:
    """csv.writer's file: hands each row back to the streaming response."""

    def write(self, value: str) -> str:
        return value


def _csv_response(filename: str, rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # Excel opens UTF-8 (Chinese names) correctly with a BOM
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _managed_campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    """The owner's or a manager's campaign: 404 for anyone outside the shop, 403 for assistants."""
    try:
        return access_campaign_to_manage(request.user, campaign_id)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None


def _account_labels() -> list[str]:
    labels = dict(Account.choices)
    return [labels[a] for a in ACCOUNTS]


@login_required
def campaign_settlement_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _managed_campaign(request, campaign_id)
    member = _membership(request, campaign.shop_id)
    statement = campaign_statement(campaign)
    return render(
        request,
        "preorders/campaign_settlement.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "campaign": campaign,
            "statement": statement,
            "figures": statement_figures(statement),
            "breakdown": campaign_breakdown(campaign),
            "accounts": _account_labels(),
            "transactions": campaign_transactions_recent(campaign),
            "config": {"page": "settlement", "shop": campaign.shop_id},
        },
    )


@login_required
def campaign_settlement_csv(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    """Every ledger transaction of the campaign with its legs by account, and a totals row."""
    campaign = _managed_campaign(request, campaign_id)

    def rows() -> Iterator[list[Any]]:
        yield ["date", "kind", "reference", "pledge", "amount", "currency", *ACCOUNTS, "memo"]
        totals = [0] * len(ACCOUNTS)
        for row in campaign_transactions(campaign):
            t = row["transaction"]
            totals = [a + b for a, b in zip(totals, row["accounts"], strict=True)]
            yield [
                timezone.localtime(t.created_at).isoformat(timespec="seconds"),
                t.kind,
                cell_safe(t.reference),
                t.pledge_id or "",
                money_str(t.amount),
                t.currency,
                *[money_str(v) for v in row["accounts"]],
                cell_safe(t.memo),
            ]
        yield ["total", "", "", "", "", campaign.currency, *[money_str(v) for v in totals], ""]

    return _csv_response(f"campaign-{campaign.pk}-settlement.csv", rows())


def _managed_shop(request: HttpRequest):
    member = _membership(request)
    if not is_managing(member):
        raise PermissionDenied
    return member


@login_required
def shop_settlement_page(request: HttpRequest) -> HttpResponse:
    member = _managed_shop(request)
    data = shop_statement(member.shop)
    return render(
        request,
        "preorders/shop_settlement.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "rows": [{**r, "figures": statement_figures(r["statement"])} for r in data["rows"]],
            "totals": [{**t, "figures": statement_figures(t["statement"])} for t in data["totals"]],
            "labels": [FIGURE_LABELS[f] for f in FIGURES],
            "csv_url": reverse("shop-settlement-csv") + f"?shop={member.shop_id}",
            "config": {"page": "settlement", "shop": member.shop_id},
        },
    )


@login_required
def shop_settlement_csv(request: HttpRequest) -> StreamingHttpResponse:
    member = _managed_shop(request)
    data = shop_statement(member.shop)

    def rows() -> Iterator[list[Any]]:
        yield ["campaign", "title", "kind", "status", "currency", *FIGURES, "balanced"]
        for r in data["rows"]:
            c, s = r["campaign"], r["statement"]
            yield [
                c.pk,
                cell_safe(c.title),
                c.kind,
                c.status,
                c.currency,
                *[money_str(s[f]) for f in FIGURES],
                s["balanced"],
            ]
        for t in data["totals"]:
            s = t["statement"]
            yield ["total", "", "", "", t["currency"], *[money_str(s[f]) for f in FIGURES], s["balanced"]]

    return _csv_response(f"shop-{member.shop_id}-settlement.csv", rows())


FACTORY_COLUMNS = (
    "order",
    "window_start",
    "order_status",
    "shop",
    "campaign",
    "cycle",
    "units",
    "payable_to_factory",
    "compensation",
    "net",
    "currency",
)


def factory_statement_csv(request: HttpRequest, token: str) -> StreamingHttpResponse:
    """The factory's statement through its signed link: one row per campaign or cycle, no fan data."""
    factory = board_factory(token)
    if factory is None:
        raise Http404
    data = factory_statement(factory)

    def rows() -> Iterator[list[Any]]:
        yield list(FACTORY_COLUMNS)
        for r in data["rows"]:
            yield [
                f"FO-{r['order'].pk}",
                r["order"].window_start.isoformat(),
                r["order"].status,
                cell_safe(r["shop"]),
                cell_safe(r["campaign"]),
                r["cycle"] or "",
                r["units"],
                money_str(r["payable_to_factory"]),
                money_str(r["compensation"]),
                money_str(r["net"]),
                r["currency"],
            ]
        for t in data["totals"]:
            yield [
                "total",
                "",
                "",
                "",
                "",
                "",
                t["units"],
                money_str(t["payable_to_factory"]),
                money_str(t["compensation"]),
                money_str(t["net"]),
                t["currency"],
            ]

    return _csv_response(f"factory-{factory.pk}-statement.csv", rows())
