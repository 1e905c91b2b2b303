"""The owner's Journeys page (/journeys/): each journey with its switch and per-step funnel, and an editor for
its steps. A server-rendered shell; static/fansi/journeys.js works through the journeys API."""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fans.crm.models import Tag
from fans.crm.views import _membership, _my_shops
from journeys import selectors
from journeys.models import StepKind, Trigger
from journeys.services.templates import journeys_ensure
from shops.roles import is_managing


@login_required
def journeys_page(request: HttpRequest) -> HttpResponse:
    member = _membership(request)
    shop = member.shop
    journeys_ensure(shop)
    tags = Tag.objects.filter(Q(group__shop=shop) | Q(group__shop__isnull=True)).select_related("group")
    config = {
        "shop": shop.pk,
        "can_manage": is_managing(member),
        "journeys": selectors.journeys_to_dicts(selectors.journey_list(shop)),
        "triggers": [{"value": t.value, "label": str(t.label)} for t in Trigger],
        "kinds": [{"value": k.value, "label": str(k.label)} for k in StepKind],
        "tags": [{"id": t.pk, "name": f"{t.group.name} · {t.name}"} for t in tags.order_by("group_id", "pk")],
    }
    context = {
        "shop": shop,
        "membership": member,
        "my_shops": _my_shops(request),
        "can_manage": is_managing(member),
        "config": config,
    }
    return render(request, "journeys/journeys.html", context)
