"""Settlement statements read from the ledger: per campaign, per shop and per factory (reads only).

Every number comes from payments.ledger (the books); nothing here is stored. The factory's statement is
made of aggregates per campaign or cycle and never names a fan.
"""

import re
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from payments.ledger import cents, statement, statement_from_sums, statements_by, statements_sums
from payments.models import Account, LedgerLeg, LedgerTransaction, TransactionKind
from preorders.models import (
    Campaign,
    CampaignStatus,
    CycleDelivery,
    DeliveryStatus,
    FactoryOrderSource,
    Pledge,
    PledgeStatus,
)
from preorders.money import money_round
from shops.models import Factory, Shop

# The statement's figures, in the order pages, the API and the CSV exports show them.
FIGURES = (
    "collected",
    "refunded",
    "forfeited",
    "compensated",
    "price_credits",
    "held",
    "payable_to_factory",
    "payable_to_shop",
    "platform_fee",
)
FIGURE_LABELS = {
    "collected": _("Collected"),
    "refunded": _("Refunded"),
    "forfeited": _("Forfeited deposits"),
    "compensated": _("Compensation paid"),
    "price_credits": _("Price-protection credits"),
    "held": _("Held for fans"),
    "payable_to_factory": _("Payable to the factory"),
    "payable_to_shop": _("Payable to the shop"),
    "platform_fee": _("Platform fee"),
}
# Ledger accounts as CSV columns: the cash side first, then what is held, then what is payable.
ACCOUNTS = tuple(Account.values)


def money_str(value: Decimal) -> str:
    return str(money_round(value))


def statement_figures(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures of a statement with their labels, for the pages."""
    return [{"key": k, "label": FIGURE_LABELS[k], "value": money_round(data[k])} for k in FIGURES]


def statement_out(data: dict[str, Any], currency: str) -> dict[str, Any]:
    """A statement as the API answers it: decimal strings, `balanced` and the currency."""
    out: dict[str, Any] = {name: money_str(data[name]) for name in FIGURES}
    out["balanced"] = data["balanced"]
    out["currency"] = currency
    return out


def campaign_statement(campaign: Campaign) -> dict[str, Any]:
    return statement(campaign_id=campaign.pk)


def campaign_breakdown(campaign: Campaign) -> list[dict[str, Any]]:
    """Sums by transaction kind and account, one row per kind present (the statement page's table)."""
    sums = statements_sums(None, campaign_id=campaign.pk).get(None, {})
    labels = dict(TransactionKind.choices)
    rows = []
    for kind in TransactionKind.values:
        cells = [sums.get((kind, account), Decimal(0)) for account in ACCOUNTS]
        if any(cells):
            rows.append({"kind": kind, "label": labels[kind], "cells": cells})
    return rows


def campaign_transactions(campaign: Campaign) -> Iterator[dict[str, Any]]:
    """Every ledger transaction of a campaign with its legs by account, oldest first (streamed)."""
    qs = (
        LedgerTransaction.objects.filter(campaign_id=campaign.pk)
        .prefetch_related("legs")
        .order_by("created_at", "pk")
    )
    for txn in qs.iterator(chunk_size=2000):
        by_account: dict[str, Decimal] = defaultdict(Decimal)
        for leg in txn.legs.all():
            by_account[leg.account] += leg.amount
        yield {"transaction": txn, "accounts": [by_account.get(a, Decimal(0)) for a in ACCOUNTS]}


def campaign_transactions_recent(campaign: Campaign, limit: int = 100) -> list[dict[str, Any]]:
    qs = (
        LedgerTransaction.objects.filter(campaign_id=campaign.pk)
        .prefetch_related("legs")
        .order_by("-created_at", "-pk")[:limit]
    )
    out = []
    for txn in qs:
        by_account: dict[str, Decimal] = defaultdict(Decimal)
        for leg in txn.legs.all():
            by_account[leg.account] += leg.amount
        out.append({"transaction": txn, "accounts": [by_account.get(a, Decimal(0)) for a in ACCOUNTS]})
    return out


def shop_statement(shop: Shop) -> dict[str, Any]:
    """One row per campaign that moved money (or is past its draft), and the shop's totals per currency."""
    by_campaign = statements_by("campaign_id", shop_id=shop.pk)
    campaigns = list(
        Campaign.objects.filter(shop=shop)
        .order_by("-created_at", "-pk")
        .only("pk", "title", "status", "kind", "currency", "created_at")
    )
    empty = statement_from_sums({})
    rows = [
        {"campaign": c, "statement": by_campaign.get(c.pk, empty)}
        for c in campaigns
        if c.pk in by_campaign or c.status != CampaignStatus.DRAFT
    ]
    currencies = sorted(
        set(LedgerTransaction.objects.filter(shop_id=shop.pk).values_list("currency", flat=True).distinct())
    ) or [shop_currency(shop)]
    totals = [{"currency": cur, "statement": statement(shop_id=shop.pk, currency=cur)} for cur in currencies]
    return {"rows": rows, "totals": totals}


def shop_currency(shop: Shop) -> str:
    return Campaign.objects.filter(shop=shop).values_list("currency", flat=True).first() or "CNY"


# --- the factory's statement (aggregates only) -------------------------------------------------------

_CYCLE_REF = re.compile(r"^cycle-(\d+)-release")
_CAMPAIGN_REF = re.compile(r"^campaign-(\d+)-release-fo-(\d+)$")


def factory_statement(factory: Factory) -> dict[str, Any]:
    """Per campaign or cycle feeding the factory's orders: paid units, payable to the factory, and the
    late-shipment compensation charged to it. Totals per currency. No fan, pledge or order of a fan."""
    sources = list(
        FactoryOrderSource.objects.filter(order__factory_product__factory=factory)
        .select_related("order__factory_product", "campaign__shop", "cycle__campaign__shop")
        .order_by("order_id", "pk")
    )
    payable: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for reference, amount in LedgerLeg.objects.filter(
        transaction__kind=TransactionKind.RELEASE,
        transaction__factory_id=factory.pk,
        account=Account.FACTORY_PAYABLE,
    ).values_list("transaction__reference", "amount"):
        if m := _CAMPAIGN_REF.match(reference):
            payable[("campaign", int(m.group(1)))] -= amount
        elif m := _CYCLE_REF.match(reference):
            payable[("cycle", int(m.group(1)))] -= amount
    campaign_ids = {s.campaign_id or s.cycle.campaign_id for s in sources}
    # Compensation charged to the factory: the debits of factory_payable by compensation transactions.
    compensation = dict(
        LedgerLeg.objects.filter(
            transaction__kind=TransactionKind.COMPENSATION,
            transaction__campaign_id__in=campaign_ids,
            account=Account.FACTORY_PAYABLE,
        )
        .values("transaction__campaign_id")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("transaction__campaign_id", "total")
    )
    compensation = {k: cents(v) for k, v in compensation.items()}
    campaign_units = dict(
        Pledge.objects.filter(
            campaign_id__in=[s.campaign_id for s in sources if s.campaign_id], status=PledgeStatus.PAID
        )
        .values("campaign_id")
        .annotate(n=Sum("quantity"))
        .order_by()
        .values_list("campaign_id", "n")
    )
    cycle_units = dict(
        CycleDelivery.objects.filter(
            cycle_id__in=[s.cycle_id for s in sources if s.cycle_id], status=DeliveryStatus.CHARGED
        )
        .values("cycle_id")
        .annotate(n=Sum("quantity"))
        .order_by()
        .values_list("cycle_id", "n")
    )
    rows = []
    compensation_shown: set[int] = set()
    for s in sources:
        campaign = s.campaign or s.cycle.campaign
        key = ("campaign", s.campaign_id) if s.campaign_id else ("cycle", s.cycle_id)
        # A campaign's compensation is on its first row (a subscription's cycles share their campaign's).
        charged = Decimal(0)
        if campaign.pk not in compensation_shown:
            charged = compensation.get(campaign.pk) or Decimal(0)
            compensation_shown.add(campaign.pk)
        owed = payable.get(key, Decimal(0))
        rows.append(
            {
                "order": s.order,
                "shop": campaign.shop.name,
                "campaign": campaign.title,
                "cycle": s.cycle.number if s.cycle_id else None,
                "units": (campaign_units if s.campaign_id else cycle_units).get(key[1]) or 0,
                "payable_to_factory": owed,
                "compensation": charged,
                "net": owed - charged,
                "currency": campaign.currency,
            }
        )
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        t = totals.setdefault(
            row["currency"],
            {
                "currency": row["currency"],
                "units": 0,
                "payable_to_factory": Decimal(0),
                "compensation": Decimal(0),
                "net": Decimal(0),
            },
        )
        for name in ("units", "payable_to_factory", "compensation", "net"):
            t[name] += row[name]
    return {"rows": rows, "totals": [totals[c] for c in sorted(totals)]}


def factory_statement_out(data: dict[str, Any]) -> dict[str, Any]:
    """The factory statement for the board's API: decimal strings."""

    def money(row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: money_str(v) if isinstance(v, Decimal) else v for k, v in row.items() if k not in ("order",)
        }

    return {
        "rows": [
            {
                **money(r),
                "order": r["order"].pk,
                "order_status": r["order"].status,
                "window_start": r["order"].window_start.isoformat(),
            }
            for r in data["rows"]
        ],
        "totals": [money(t) for t in data["totals"]],
    }
