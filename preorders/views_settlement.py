"""Settlement pages and CSV exports: per campaign and per shop for the owner and managers, and the
factory's statement behind its signed board link (aggregates only: never a fan)."""

import csv
from collections.abc import Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from core.errors import Forbidden, NotFound
from fans.crm.csvio import cell_safe
from payments.models import Account, TransactionKind
from preorders.access import access_campaign_to_manage
from preorders.api_factory import board_factory
from preorders.factory_order_models import FactoryOrderStatus
from preorders.models import Campaign, CampaignKind, CampaignStatus
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

# CSVs: headers in the UI language, times in the shop's time zone, and every code in a column of its own
# ("kind_code" beside the kind in words) so a spreadsheet can filter on it.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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

    zone = ZoneInfo(campaign.shop.timezone or "Asia/Shanghai")
    kinds = dict(TransactionKind.choices)

    def rows() -> Iterator[list[Any]]:
        yield [
            _("Date (shop time)"),
            _("Kind"),
            "kind_code",
            _("Reference"),
            _("Pledge"),
            _("Amount"),
            _("Currency"),
            *_account_labels(),
            _("Memo"),
        ]
        totals = [0] * len(ACCOUNTS)
        for row in campaign_transactions(campaign):
            t = row["transaction"]
            totals = [a + b for a, b in zip(totals, row["accounts"], strict=True)]
            yield [
                t.created_at.astimezone(zone).strftime(TIME_FORMAT),
                kinds.get(t.kind, t.kind),
                t.kind,
                cell_safe(t.reference),
                t.pledge_id or "",
                money_str(t.amount),
                t.currency,
                *[money_str(v) for v in row["accounts"]],
                cell_safe(t.memo),
            ]
        yield [_("Total"), "", "", "", "", "", campaign.currency, *[money_str(v) for v in totals], ""]

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

    kinds, statuses = dict(CampaignKind.choices), dict(CampaignStatus.choices)

    def yes_no(value: bool) -> str:
        return _("Yes") if value else _("No")

    def rows() -> Iterator[list[Any]]:
        yield [
            _("Campaign ID"),
            _("Title"),
            _("Kind"),
            "kind_code",
            _("Status"),
            "status_code",
            _("Currency"),
            *[str(FIGURE_LABELS[f]) for f in FIGURES],
            _("Balanced"),
        ]
        for r in data["rows"]:
            c, s = r["campaign"], r["statement"]
            yield [
                c.pk,
                cell_safe(c.title),
                kinds.get(c.kind, c.kind),
                c.kind,
                statuses.get(c.status, c.status),
                c.status,
                c.currency,
                *[money_str(s[f]) for f in FIGURES],
                yes_no(s["balanced"]),
            ]
        for t in data["totals"]:
            s = t["statement"]
            yield [
                _("Total"),
                "",
                "",
                "",
                "",
                "",
                t["currency"],
                *[money_str(s[f]) for f in FIGURES],
                yes_no(s["balanced"]),
            ]

    return _csv_response(f"shop-{member.shop_id}-settlement.csv", rows())


def _factory_columns() -> list[str]:
    return [
        _("Factory order"),
        _("Window start"),
        _("Order status"),
        "order_status_code",
        _("Shop"),
        _("Campaign"),
        _("Cycle"),
        _("Units"),
        _("Payable to the factory"),
        _("Compensation"),
        _("Net"),
        _("Currency"),
    ]


def factory_statement_csv(request: HttpRequest, token: str) -> StreamingHttpResponse:
    """The factory's statement through its signed link: one row per campaign or cycle, no fan data."""
    factory = board_factory(token)
    if factory is None:
        raise Http404
    data = factory_statement(factory)

    statuses = dict(FactoryOrderStatus.choices)

    def rows() -> Iterator[list[Any]]:
        yield _factory_columns()
        for r in data["rows"]:
            yield [
                f"FO-{r['order'].pk}",
                r["order"].window_start.isoformat(),
                statuses.get(r["order"].status, r["order"].status),
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
                _("Total"),
                "",
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
