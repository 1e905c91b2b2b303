"""Fulfilment pages: the owner's after-sales desk for a campaign and the fan's page for one order
(parcels, confirm receipt, ask for after-sales help). Shells on the fulfilment API (static/fansi/fulfilment.js)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from core.errors import NotFound
from preorders import fulfilment_selectors as selectors
from preorders.access import access_pledge
from preorders.services.after_sales import WINDOW, pledge_delivered_at
from preorders.views import _my_shops, _staff_campaign
from shops.roles import is_managing


@login_required
def campaign_after_sales_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, member = _staff_campaign(request, campaign_id)
    requests = list(selectors.after_sales_list(user=request.user, campaign_id=campaign.pk)[:500])
    return render(
        request,
        "preorders/after_sales_owner.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "campaign": campaign,
            "requests": requests,
            "can_manage": is_managing(member),
            "config": {"page": "after-sales-owner", "campaign": campaign.pk},
        },
    )


@login_required
def pledge_after_sales_page(request: HttpRequest, pledge_id: int) -> HttpResponse:
    try:
        pledge = access_pledge(request.user, pledge_id)
    except NotFound:
        raise Http404 from None
    fulfilment = selectors.pledge_fulfilment(pledge)
    delivered_at = pledge_delivered_at(pledge.pk)
    window_open = delivered_at is not None and timezone.now() <= delivered_at + WINDOW
    return render(
        request,
        "preorders/after_sales_fan.html",
        {
            "pledge": pledge,
            "campaign": pledge.campaign,
            "shipments": fulfilment["shipments"],
            "requests": fulfilment["after_sales"],
            "delivered_at": delivered_at,
            "window_ends": delivered_at + WINDOW if delivered_at else None,
            "open_request": fulfilment["open_request"],
            "can_ask": window_open and not fulfilment["open_request"],
            "config": {
                "page": "after-sales-fan",
                "pledge": pledge.pk,
                "api": reverse("api-pledge-after-sales", args=[pledge.pk]),
            },
        },
    )
