"""Design-round pages: the owner's list, new-round form and round page (votes against the target,
comments, chat suggestions, forecast, launch, the campaigns made), the fan's round page (pick, vote,
comment, confirm the pre-pledge), and the factory board's section of rounds assigned to the factory."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from c2m.design import rules, selectors
from c2m.design.access import access_round
from c2m.design.models import DesignPrePledge, DesignRound, DesignVote, RoundStatus, VoteStatus
from c2m.design.services import pre_pledge_quote
from c2m.insight.links import insight_page_url
from core.errors import NotFound
from core.limits import MANAGING_ROLES
from shops.access import access_shop_membership
from shops.models import Factory, Product, ShopMember


def _membership(request: HttpRequest, shop_id: int | None = None) -> ShopMember:
    raw = shop_id if shop_id is not None else (request.GET.get("shop") or None)
    try:
        return access_shop_membership(request.user, int(raw) if raw else None)
    except (NotFound, ValueError):
        raise Http404 from None


def _my_shops(request: HttpRequest) -> Any:
    return (
        ShopMember.objects.filter(user=request.user, is_active=True)
        .select_related("shop")
        .order_by("shop_id")
    )


@login_required
def rounds_page(request: HttpRequest) -> HttpResponse:
    member = _membership(request)
    rounds = (
        DesignRound.objects.filter(shop=member.shop).select_related("product").order_by("-created_at", "-pk")
    )
    rows = []
    for rnd in rounds[:200]:
        votes = selectors.round_votes(rnd)
        rows.append({"round": rnd, "votes": sum(v["votes"] for v in votes), "combos": len(votes)})
    return render(
        request,
        "c2m/design_rounds.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "rows": rows,
            "can_manage": member.role in MANAGING_ROLES,
            "config": {},
        },
    )


@login_required
def round_new_page(request: HttpRequest) -> HttpResponse:
    member = _membership(request)
    if member.role not in MANAGING_ROLES:
        raise Http404
    products = Product.objects.filter(shop=member.shop, is_available=True).order_by("-created_at")[:200]
    return render(
        request,
        "c2m/design_round_new.html",
        {
            "shop": member.shop,
            "membership": member,
            "my_shops": _my_shops(request),
            "products": products,
            "limits": {"options_min": rules.MIN_OPTIONS, "options_max": rules.MAX_OPTIONS},
            "config": {"api": reverse("api-design-rounds"), "detail": reverse("design-round", args=[0])},
        },
    )


@login_required
def round_page(request: HttpRequest, round_id: int) -> HttpResponse:
    try:
        rnd, is_staff, fan = access_round(request.user, round_id)
    except NotFound:
        raise Http404 from None
    votes = selectors.round_votes(rnd)
    config = {
        "round": rnd.pk,
        "api": reverse("api-design-round", args=[rnd.pk]),
        "launch": reverse("api-design-round-launch", args=[rnd.pk]),
        "votes": reverse("api-design-round-votes", args=[rnd.pk]),
        "comments": reverse("api-design-round-comments", args=[rnd.pk]),
    }
    context: dict[str, Any] = {
        "round": rnd,
        "shop": rnd.shop,
        "votes": votes,
        "total_votes": sum(v["votes"] for v in votes),
        "comments": selectors.comments_of(rnd),
        "config": config,
        "campaigns": _campaigns(rnd),
    }
    if is_staff:
        member = _membership(request, rnd.shop_id)
        context.update(
            {
                "membership": member,
                "my_shops": _my_shops(request),
                "can_manage": member.role in MANAGING_ROLES,
                "suggestions": selectors.round_suggestions(rnd) if member.role in MANAGING_ROLES else [],
                "forecast": selectors.round_forecast(rnd)
                if rnd.status in (RoundStatus.DRAFT, RoundStatus.LIVE)
                else [],
            }
        )
        return render(request, "c2m/design_round_owner.html", context)
    vote = (
        DesignVote.objects.filter(round=rnd, fan=fan)
        .exclude(status=VoteStatus.FAILED)
        .order_by("-pk")
        .first()
    )
    pre = (
        DesignPrePledge.objects.select_related("campaign", "vote").filter(vote=vote).first() if vote else None
    )
    context.update(
        {
            "fan": fan,
            "vote": vote,
            "vote_label": rules.combination_label(vote.combination, rnd.ordered_attributes) if vote else "",
            "pre_pledge": pre,
            "quote": pre_pledge_quote(pre) if pre and pre.status == "offered" else None,
            "open": rnd.status == RoundStatus.LIVE,
            "attributes": [{"name": a, "options": o} for a, o in rnd.ordered_attributes.items()],
        }
    )
    if pre is not None:
        config["confirm"] = reverse("api-design-pre-pledge-confirm", args=[pre.pk])
        config["decline"] = reverse("api-design-pre-pledge-decline", args=[pre.pk])
    if vote is not None:
        config["mine"] = vote.combination
    return render(request, "c2m/design_round_fan.html", context)


def _campaigns(rnd: DesignRound) -> list[dict[str, Any]]:
    out = []
    for winner in rnd.winners.select_related("campaign").order_by("pk"):
        if winner.campaign is None:
            continue
        row: dict[str, Any] = {
            "campaign": winner.campaign,
            "label": rules.combination_label(winner.combination, rnd.ordered_attributes),
            "votes": winner.votes,
            "confirmed": winner.pre_pledges.filter(status="confirmed").count(),
            "offered": winner.pre_pledges.filter(status="offered").count(),
        }
        if rnd.factory_id:
            row["insight"] = insight_page_url(factory=rnd.factory, campaign=winner.campaign)
        out.append(row)
    return out


def design_board_section(request: HttpRequest, factory: Factory, token: str) -> str:
    """The factory board's co-design section: decided rounds assigned to this factory, their winning
    combinations (votes and confirmed pre-pledges, never a fan) and each winner's insight report."""
    rounds = list(
        DesignRound.objects.filter(factory=factory, status=RoundStatus.DECIDED)
        .select_related("product", "shop", "factory")
        .order_by("-decided_at")[:20]
    )
    if not rounds:
        return ""
    rows = [{"round": r, "winners": _campaigns(r)} for r in rounds]
    return SafeString(render_to_string("c2m/design_board_section.html", {"rows": rows}, request=request))
