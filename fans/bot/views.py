"""Bot pages: settings, FAQ rules and canned replies (/bot/), and broadcasts (/broadcasts/).

Server-rendered shells with vanilla JS (static/fansi/bot.js) on top of the bot REST API (fans/bot_api.py).
Staff of the shop see them (404 for everyone else); writes go through the API, which lets only owners and
managers change anything.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fans.bot import services as bot
from fans.bot.hooks import broadcast_campaigns, settings_panels_render
from fans.bot.models import Broadcast, CannedReply, FaqRule
from fans.chat.models import Fan
from fans.crm.models import Segment
from fans.crm.views import _membership, _my_shops
from shops.models import Product, ShopMember
from shops.roles import is_managing

RECENT_BROADCASTS = 20


def _context(request: HttpRequest, member: ShopMember, **extra: Any) -> dict[str, Any]:
    return {
        "shop": member.shop,
        "membership": member,
        "my_shops": _my_shops(request),
        "can_manage": is_managing(member),
        **extra,
    }


@login_required
def bot_settings(request: HttpRequest) -> HttpResponse:
    """The shop's bot: on/off, business and quiet hours, attention budget, FAQ answers and canned replies."""
    member = _membership(request)
    context = _context(
        request,
        member,
        settings=bot.bot_settings_get(member.shop),
        faq=list(FaqRule.objects.filter(shop=member.shop)),
        canned=list(CannedReply.objects.filter(shop=member.shop).order_by("title")),
        config={"shop": member.shop_id, "page": "bot", "can_manage": is_managing(member)},
        panels=settings_panels_render(request, member.shop),
    )
    return render(request, "fans/bot/settings.html", context)


@login_required
def broadcasts(request: HttpRequest) -> HttpResponse:
    """Compose a broadcast to a segment or to all fans, and watch recent ones deliver (budget-aware)."""
    member = _membership(request)
    shop = member.shop
    recent = [
        bot.broadcast_stats(b)
        for b in Broadcast.objects.filter(shop=shop).order_by("-created_at", "-pk")[:RECENT_BROADCASTS]
    ]
    rows = Broadcast.objects.filter(pk__in=[r["id"] for r in recent])
    texts = {pk: (text, card) for pk, text, card in rows.values_list("pk", "text", "card")}
    scheduled = dict(
        Broadcast.objects.filter(retry_of__in=[r["id"] for r in recent]).values_list(
            "retry_of", "scheduled_at"
        )
    )
    for row in recent:
        row["text"], card = texts.get(row["id"], ("", {}))
        row["card_title"] = (card or {}).get("title") or (card or {}).get("name") or ""
        row["send_later_at"] = scheduled.get(row["id"])
    config = {
        "shop": shop.pk,
        "page": "broadcasts",
        # Times typed on this page are the shop's wall clock (the API reads an offset-less time that way).
        "tz": shop.timezone,
        # The API takes fan ids or a segment; "all fans" is this shop's ids.
    }
    context = _context(
        request,
        member,
        segments=list(Segment.objects.filter(shop=shop).order_by("name")),
        products=list(Product.objects.filter(shop=shop, is_available=True).order_by("name")[:200]),
        campaigns=broadcast_campaigns.get("campaigns")(shop),
        recent=recent,
        fan_count=Fan.objects.filter(shop=shop).count(),
        config=config,
    )
    return render(request, "fans/bot/broadcasts.html", context)
