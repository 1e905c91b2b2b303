"""Factory order export (CSV) and printable page, for platform admins; campaign pages for owners and fans."""

import csv
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.errors import Forbidden, NotFound
from core.replica import replica_reads
from preorders import selectors
from preorders.access import access_campaign
from preorders.box_selectors import DELIVERY_NOTE_COLUMNS, cycle_delivery_notes
from preorders.dashboard import owner_panels
from preorders.hooks import campaign_panels_render
from preorders.models import (
    HOLDING_STATUSES,
    Cadence,
    Campaign,
    CampaignStatus,
    FactoryOrder,
    LapseRule,
)
from preorders.pledge_copy import pledge_kind, pledge_status_label
from preorders.poster import render_poster
from preorders.scorecards import candidate_factories
from preorders.selectors import (
    campaign_current_unit_price,
    campaign_tiers,
    campaign_variants_offered,
    factory_order_list,
    factory_order_totals,
)
from preorders.services.campaigns import SHIP_BY_SLACK
from preorders.views_manage import LOCAL_INPUT, extend_bounds, manage_config
from preorders.views_visitor import visitor_config, visitor_context
from shops.access import access_shop_membership
from shops.models import Product, ShopMember, ShopMilestone
from shops.ratings import product_statuses
from shops.roles import is_managing
from shops.services import shop_milestone_record

# The form proposes the balance deadline this long after the deadline.
BALANCE_DEFAULT = dt.timedelta(days=3)


def _order(order_id: int) -> FactoryOrder:
    return get_object_or_404(factory_order_list(), pk=order_id)


@staff_member_required
def factory_order_csv(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(order_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="factory-order-{order.pk}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 (Chinese names) correctly with a BOM
    writer = csv.writer(response)
    writer.writerow(
        [
            "order",
            "factory",
            "product",
            "window_start",
            "status",
            "sku",
            "variant",
            "quantity",
            "deposits",
            "value",
            "currency",
        ]
    )
    for line in order.lines.all():
        writer.writerow(
            [
                order.pk,
                order.factory_product.factory.name,
                order.factory_product.name,
                order.window_start.isoformat(),
                order.status,
                line.sku,
                line.name,
                line.quantity,
                line.deposits,
                line.value,
                order.currency,
            ]
        )
    # fruit box: a cycle's boxes that go out late or to someone else, below the lines
    notes = cycle_delivery_notes(order.cycle) if order.cycle_id else []
    if notes:
        writer.writerow([])
        writer.writerow(["delivery", *DELIVERY_NOTE_COLUMNS])
        for note in notes:
            writer.writerow(["delivery", *(note[c] for c in DELIVERY_NOTE_COLUMNS)])
    return response


@staff_member_required
def factory_order_print(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(order_id)
    totals = factory_order_totals(order)
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
        ((line.sku, line.name, line.quantity, line.deposits, line.value) for line in order.lines.all()),
    )
    html = format_html(
        "<!doctype html><html lang=zh><meta charset=utf-8><title>工厂订单 FO-{}</title>"
        # Styles and the print button from static files: the Content-Security-Policy allows nothing inline.
        '<link rel=stylesheet href="{}"><script src="{}" defer></script>'
        "<button type=button data-print>打印 Print</button>"
        "<h1>工厂订单 Factory order FO-{}</h1><p>{} — {}<br>交付周 Delivery week: {} · 状态 Status: {} · MOQ {}</p>"
        "<table><tr><th>SKU</th><th>规格 Variant</th><th>数量 Qty</th><th>定金 Deposits</th><th>货值 Value</th></tr>"
        "{}<tr><th colspan=2>合计 Total</th><th class=n>{}</th><th class=n>{}</th><th class=n>{} {}</th></tr></table>",
        order.pk,
        static("fansi/print.css"),
        static("fansi/print.js"),
        order.pk,
        order.factory_product.factory.name,
        order.factory_product.name,
        order.window_start,
        order.get_status_display(),
        order.factory_product.moq,
        rows,
        totals["quantity"],
        totals["deposits"],
        totals["value"],
        order.currency,
    )
    return HttpResponse(html)


# ------------------------------------------------------------------------------------------------------------
# Campaign pages: server-rendered shells with vanilla JS (static/fansi/campaign.js) on the campaign REST API.
# Owner pages are for the shop's staff (404 for everyone else); the fan pages need a login.
# ------------------------------------------------------------------------------------------------------------


def _membership(request: HttpRequest, shop_id: int | None = None) -> ShopMember:
    """The user's membership in `shop_id` (or ?shop=, or their first shop); Http404 for fans and strangers."""
    raw = shop_id if shop_id is not None else (request.GET.get("shop") or None)
    try:
        return access_shop_membership(request.user, int(raw) if raw else None)
    except (NotFound, ValueError):
        raise Http404 from None


def _my_shops(request: HttpRequest) -> QuerySet[ShopMember]:
    return (
        ShopMember.objects.filter(user=request.user, is_active=True)
        .select_related("shop")
        .order_by("shop_id")
    )


def _staff_campaign(request: HttpRequest, campaign_id: int) -> tuple[Campaign, ShopMember]:
    try:
        campaign, is_staff = access_campaign(request.user, campaign_id)
    except NotFound:
        raise Http404 from None
    if not is_staff:
        raise Http404
    return campaign, _membership(request, campaign.shop_id)


def _tier_rows(campaign: Campaign) -> list[dict[str, Any]]:
    return [
        {"min_quantity": t.min_quantity, "unit_price": str(t.unit_price)} for t in campaign_tiers(campaign)
    ]


def _campaign_config(campaign: Campaign) -> dict[str, Any]:
    """What campaign.js needs to draw the ladder and progress before (and between) API reads."""
    return {
        "id": campaign.pk,
        "shop": campaign.shop_id,
        "kind": campaign.kind,
        "status": campaign.status,
        "committed_quantity": campaign.committed_quantity,
        "target_quantity": campaign.target_quantity,
        "cap": campaign.cap,
        "base_unit_price": str(campaign.base_unit_price),
        "current_unit_price": str(campaign_current_unit_price(campaign)),
        "deposit_percent": str(campaign.deposit_percent),
        "per_fan_limit": campaign.per_fan_limit,
        "deadline": campaign.deadline.isoformat(),
        "cancelled_at": campaign.cancelled_at.isoformat() if campaign.cancelled_at else None,
        "tiers": _tier_rows(campaign),
        "api": reverse("api-campaign", args=[campaign.pk]),
    }


@login_required
def campaign_list_page(request: HttpRequest) -> HttpResponse:
    member = _membership(request)
    campaigns = list(selectors.campaign_list(user=request.user, shop_id=member.shop_id)[:200])
    rows = [
        {
            "campaign": c,
            "price": campaign_current_unit_price(c),
            "percent": min(100, round(100 * c.committed_quantity / c.target_quantity))
            if c.target_quantity
            else 0,
        }
        for c in campaigns
    ]
    products = Product.objects.filter(shop=member.shop, is_available=True).order_by("-created_at")[:200]
    return render(
        request,
        "preorders/campaign_list.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "rows": rows,
            "products": products,
            "can_manage": is_managing(member),
            "config": {
                "shop": member.shop_id,
                "page": "list",
                "campaigns": [
                    {
                        "id": c.pk,
                        "api": reverse("api-campaign", args=[c.pk]),
                        "status": c.status,
                        "committed_quantity": c.committed_quantity,
                        "target_quantity": c.target_quantity,
                        "current_unit_price": str(row["price"]),
                    }
                    for c, row in zip(campaigns, rows, strict=True)
                ],
            },
        },
    )


@login_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    member = _membership(request)
    products = (
        Product.objects.filter(shop=member.shop).select_related("factory_product").order_by("-created_at")
    )
    product = None
    raw = request.GET.get("product")
    if raw:
        try:
            product = products.filter(pk=int(raw)).first()
        except ValueError:
            product = None
        if product is None:
            raise Http404
    lead_days = product.factory_product.lead_time_days if product and product.factory_product else 0
    deadline = timezone.localtime() + dt.timedelta(days=14)
    balance_at = deadline + BALANCE_DEFAULT
    context = {
        "shop": member.shop,
        "membership": member,
        "my_shops": _my_shops(request),
        "products": products[:200],
        "product": product,
        "black_listed": bool(product) and product_statuses([product.pk]).get(product.pk) == "black",
        "variants": list(product.variants.order_by("pk")) if product else [],
        "can_manage": is_managing(member),
        "moq": product.factory_product.moq if product and product.factory_product else 1,
        "lead_days": lead_days,
        "default_deadline": deadline.strftime(LOCAL_INPUT),
        # The service's own defaults (money_terms_clean), shown so the owner sees and can change them.
        "default_balance_deadline": balance_at.strftime(LOCAL_INPUT),
        "default_ship_by": (balance_at + dt.timedelta(days=lead_days) + SHIP_BY_SLACK).strftime(LOCAL_INPUT),
        "lapse_rules": LapseRule.choices,
        "cadences": Cadence.choices,
        "config": {
            "shop": member.shop_id,
            "page": "new",
            "product": product.pk if product else None,
            "price": str(product.price) if product else None,
            "list_url": reverse("campaigns") + f"?shop={member.shop_id}",
        },
    }
    # 工厂优选: the factories that make this category, best scorecard first, with why (read-only).
    context["candidate_factories"] = candidate_factories(product.category) if product else []
    return render(request, "preorders/campaign_new.html", context)


@login_required
def campaign_detail_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, member = _staff_campaign(request, campaign_id)
    pledges = list(selectors.pledge_list_for_campaign(campaign=campaign)[:500])
    share_url = request.build_absolute_uri(reverse("campaign-join", args=[campaign.pk]))
    can_manage = is_managing(member)
    return render(
        request,
        "preorders/campaign_detail.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "campaign": campaign,
            "pledges": pledges,
            "can_manage": can_manage,
            "black_listed": product_statuses([campaign.product_id]).get(campaign.product_id) == "black",
            "share_url": share_url,
            "price": campaign_current_unit_price(campaign),
            **owner_panels(campaign, can_manage=can_manage),
            "extra_panels": campaign_panels_render(request, campaign),
            "config": {
                **_campaign_config(campaign),
                "page": "detail",
                "launch_api": reverse("api-campaign-launch", args=[campaign.pk]),
                "moq_api": reverse("api-campaign-moq-decision", args=[campaign.pk]),
                **manage_config(campaign),
            },
            **extend_bounds(campaign),
        },
    )


@login_required
def campaign_poster(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, _member = _staff_campaign(request, campaign_id)
    png = render_poster(
        campaign,
        shop_url=request.build_absolute_uri(reverse("fan-chat", kwargs={"shop_slug": campaign.shop.slug})),
        join_url=request.build_absolute_uri(reverse("campaign-join", args=[campaign.pk])),
    )
    response = HttpResponse(png, content_type="image/png")
    # Opened on its own or downloaded, not the page's thumbnail: the owner is sharing it (onboarding).
    if request.GET.get("download") or request.headers.get("Sec-Fetch-Dest") == "document":
        shop_milestone_record(shop_id=campaign.shop_id, key=ShopMilestone.Key.POSTER_SHARED)
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.png"'
    response["Cache-Control"] = "no-cache"  # the numbers move with every pledge
    return response


def campaign_join(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The short link printed on posters; a share's ?ref= goes along to the campaign page."""
    url = reverse("campaign-fan", args=[campaign_id])
    ref = request.GET.get("ref", "")[:32]
    return redirect(f"{url}?{urlencode({'ref': ref})}" if ref else url)


def _waitlist_open(campaign: Campaign) -> bool:
    from preorders.services.waitlist import waitlist_open

    return waitlist_open(campaign)


def campaign_fan_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The campaign for its fans; logged out, a public preview whose join button signs up in place."""
    try:
        campaign, is_staff = access_campaign(request.user, campaign_id)
    except NotFound:
        raise Http404 from None
    variants = list(campaign_variants_offered(campaign).filter(is_available=True).order_by("pk"))
    anonymous = not request.user.is_authenticated
    mine = (
        []
        if anonymous
        else [
            p
            for p in selectors.pledge_list_for_user(user=request.user).filter(campaign=campaign)
            if p.status in HOLDING_STATUSES
        ]
    )
    for p in mine:  # the fan's words for its status (preorders.pledge_copy)
        p.status_label = pledge_status_label(
            kind=pledge_kind(campaign.kind, has_box=campaign.box_items.exists()), status=p.status
        )
    return render(
        request,
        "preorders/campaign_fan.html",
        {
            "shop": campaign.shop,
            "campaign": campaign,
            "product": campaign.product,
            "variants": variants,
            "price": campaign_current_unit_price(campaign),
            "mine": mine,
            "is_staff": is_staff,
            "is_open": campaign.status == CampaignStatus.LIVE and campaign.deadline > timezone.now(),
            "waitlist_open": _waitlist_open(campaign),
            **visitor_context(request, campaign),
            "config": {
                **_campaign_config(campaign),
                "page": "fan",
                "pledge_api": reverse("api-campaign-pledges", args=[campaign.pk]),
                "mine_url": reverse("my-pledges"),
                **visitor_config(request, campaign),
            },
        },
    )


def factory_board_page(request: HttpRequest, token: str) -> HttpResponse:
    """The factory's board behind its signed link: committed demand by variant against each MOQ, refreshed
    live, and its orders with the per-fan lines to ship, a shipment form and a CSV upload."""
    from preorders.access import access_board
    from preorders.fulfilment_selectors import board_orders
    from preorders.hooks import board_sections
    from preorders.statements import factory_statement

    try:
        factory = access_board(token)
    except NotFound:
        raise Http404 from None
    except Forbidden as refused:
        # Expired, replaced or revoked: a page that says which (403), never the board.
        return render(
            request,
            "preorders/board_link_gone.html",
            {"code": refused.code, "message": refused.message},
            status=403,
        )
    with replica_reads():  # the board's committed demand: heavy aggregate reads (core/replica.py)
        demand = selectors.factory_demand(factory=factory)
    for product in demand["products"]:
        for row in [product, *product["variants"]]:
            row["percent"] = min(100, round(100 * row["committed"] / row["moq"])) if row["moq"] else 100
    return render(
        request,
        "preorders/factory_board.html",
        {
            "demand": demand,
            "token": token,
            "orders": board_orders(factory),
            "statement": factory_statement(factory),
            "sections": [section(request, factory, token) for section in board_sections.providers()],
        },
    )
