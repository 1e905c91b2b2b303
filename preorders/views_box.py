"""Fruit box pages: the owner's box (items and the week's ripeness calendar) and a fan's own box.

Shells that static/fansi/fruit_box.js draws from the same bodies the box API answers, so a change redraws
without a reload. The owner page is for the shop's staff (404 otherwise), the fan page for the pledge's fan.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.errors import NotFound
from preorders.access import access_pledge
from preorders.box_models import CancelReason
from preorders.box_selectors import campaign_box_get, pledge_box_get, retention_summary
from preorders.models import CampaignKind
from preorders.views import _my_shops, _staff_campaign
from shops.roles import is_managing


@login_required
def campaign_box_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, member = _staff_campaign(request, campaign_id)
    if campaign.kind != CampaignKind.SUBSCRIPTION:
        raise Http404
    can_manage = is_managing(member)
    return render(
        request,
        "preorders/box_owner.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "campaign": campaign,
            "can_manage": can_manage,
            "retention": retention_summary(campaign),
            "config": {
                "page": "box-owner",
                "campaign": campaign.pk,
                "can_manage": can_manage,
                "items_api": reverse("api-campaign-box-items", args=[campaign.pk]),
                "box": campaign_box_get(campaign),
            },
        },
    )


@login_required
def pledge_box_page(request: HttpRequest, pledge_id: int) -> HttpResponse:
    try:
        pledge = access_pledge(request.user, pledge_id)
    except NotFound:
        raise Http404 from None
    if pledge.campaign.kind != CampaignKind.SUBSCRIPTION:
        raise Http404
    campaign = pledge.campaign
    return render(
        request,
        "preorders/box_fan.html",
        {
            "shop": campaign.shop,
            "campaign": campaign,
            "pledge": pledge,
            "reasons": CancelReason.choices,
            "config": {
                "page": "box-fan",
                "pledge": pledge.pk,
                "box_api": reverse("api-pledge-box", args=[pledge.pk]),
                "cancel_api": reverse("api-pledge-cancel", args=[pledge.pk]),
                "offer_api": reverse("api-pledge-cancel-offer", args=[pledge.pk]),
                "mine_url": reverse("my-pledges"),
                "reasons": dict((value, str(label)) for value, label in CancelReason.choices),
                "box": pledge_box_get(pledge),
            },
        },
    )
