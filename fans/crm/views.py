"""Fan CRM pages: server-rendered shells with vanilla JS (static/fansi/crm.js) on top of the CRM REST API.

Thin: every page resolves the user's shop membership through shops.access (404 for everyone else), reads
through selectors, and leaves writes to the API (and so to fans.services.crm).
"""

import csv
import io
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from core.errors import NotFound
from fans.chat import selectors as chat_selectors
from fans.chat.access import access_fan_as_staff
from fans.chat.models import Fan
from fans.crm import selectors
from fans.crm.audit_labels import audit_action_label
from fans.crm.filters import FILTER_KEYS, fan_count
from fans.crm.hooks import fan_pledge_list, privacy_sections_render
from fans.crm.models import SYSTEM_GROUPS, AuditLog, FanTagEvent, Segment, TagSource
from fans.crm.vocabulary import tag_groups_for_shop
from shops.access import access_shop_membership
from shops.models import ShopMember, ShopRole
from shops.roles import is_managing, may_act_on_work_of

RECENT_MESSAGES = 20
AUDIT_ROWS = 50


def _membership(request: HttpRequest) -> ShopMember:
    """The user's membership in ?shop= (or their first shop); Http404 for fans, strangers and other shops."""
    raw = request.GET.get("shop") or None
    try:
        return access_shop_membership(request.user, int(raw) if raw else None)
    except (NotFound, ValueError):
        raise Http404 from None


def _my_shops(request: HttpRequest):
    return (
        ShopMember.objects.filter(user=request.user, is_active=True)
        .select_related("shop")
        .order_by("shop_id")
    )


def _team(member: ShopMember) -> list[dict[str, Any]]:
    members = (
        ShopMember.objects.filter(shop=member.shop, is_active=True).select_related("user").order_by("pk")
    )
    return [{"id": m.user_id, "name": m.user.get_full_name() or m.user.get_username()} for m in members]


def _vocabulary(member: ShopMember) -> list[dict[str, Any]]:
    return [
        {
            "code": g.code,
            "name": g.name,
            "choice": g.choice,
            "platform": g.shop_id is None,
            # Computed tags (the lifecycle): filters show them with a "system" badge; nobody edits them.
            "system": g.shop_id is None and g.code in SYSTEM_GROUPS,
            "tags": [{"code": t.code, "name": t.name, "value": f"{g.code}:{t.code}"} for t in g.tags.all()],
        }
        for g in tag_groups_for_shop(member.shop)
    ]


def _age(when: Any) -> str:
    """Freshness of a tag: "3 天前" / "3 days ago"."""
    if when is None:
        return ""
    if (timezone.now() - when).total_seconds() < 60:
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(when, depth=1)}


def _base_context(request: HttpRequest, member: ShopMember, **extra: Any) -> dict[str, Any]:
    return {
        "shop": member.shop,
        "membership": member,
        "my_shops": _my_shops(request),
        "can_manage": is_managing(member),
        "is_owner": member.role == ShopRole.OWNER,
        **extra,
    }


def filter_query(shop_id: int, flt: dict[str, Any]) -> str:
    """A saved filter as the fan list's query string (tags lists become comma-separated)."""
    params: list[tuple[str, str]] = [("shop", str(shop_id))]
    for key in sorted(flt):
        if key not in FILTER_KEYS:
            continue
        value = flt[key]
        params.append((key, ",".join(value) if isinstance(value, list) else str(value)))
    return urlencode(params)


@login_required
def fan_list(request: HttpRequest) -> HttpResponse:
    """The fan list shell: filters, chips and bulk tools. Rows come page by page from /api/fans/."""
    member = _membership(request)
    team = _team(member)
    config = {
        "shop": member.shop_id,
        "role": member.role,
        "me": request.user.pk,
        "team": team,
        "vocabulary": _vocabulary(member),
        "page_size": 50,
    }
    context = _base_context(request, member, config=config, team=team, vocabulary=config["vocabulary"])
    return render(request, "fans/crm/fan_list.html", context)


@login_required
def fan_detail(request: HttpRequest, fan_id: int) -> HttpResponse:
    """One fan: profile, tags with source and freshness, notes, history, and their recent conversation."""
    try:
        fan, member = access_fan_as_staff(request.user, fan_id)
    except NotFound:
        raise Http404 from None
    fan = Fan.objects.select_related("user", "assigned_to", "shop", "referred_by").get(pk=fan.pk)
    fan.invited_count = fan.referred_fans.count()
    held = selectors.fan_tag_details(fan)
    source_labels = dict(TagSource.choices)
    for item in held:
        item["source_label"] = source_labels.get(item["source"], item["source"])
        item["age"] = _age(item["created_at"])
    held_values = {item["tag"] for item in held}
    vocabulary = _vocabulary(member)
    for group in vocabulary:
        for tag in group["tags"]:
            tag["held"] = tag["value"] in held_values
        group["held"] = [h for h in held if h["group"] == group["code"]]
    events = list(
        FanTagEvent.objects.filter(fan=fan)
        .select_related("tag__group", "actor")
        .order_by("-created_at", "-pk")[:50]
    )
    history = [
        {
            "tag": f"{e.tag.group.name} · {e.tag.name}",
            "added": e.action == FanTagEvent.ADD,
            "source": source_labels.get(e.source, e.source),
            "actor": e.actor.get_username() if e.actor else "",
            "created_at": e.created_at,
        }
        for e in events
    ]
    conversation = getattr(fan, "conversation", None)
    messages: list[dict[str, Any]] = []
    if conversation is not None:
        rows = chat_selectors.message_list_before(
            conversation=conversation, before_seq=conversation.last_seq + 1, limit=RECENT_MESSAGES
        )
        messages = [{**chat_selectors.message_to_dict(m), "when": m.created_at} for m in rows]
    config = {"shop": member.shop_id, "fan": fan.pk, "role": member.role}
    context = _base_context(
        request,
        member,
        fan=fan,
        pledges=fan_pledge_list(fan),
        held=held,
        vocabulary=vocabulary,
        history=history,
        conversation=conversation,
        messages=messages,
        config=config,
    )
    return render(request, "fans/crm/fan_detail.html", context)


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    """Saved segments with live counts; opening one applies its filter to the fan list."""
    member = _membership(request)
    segments = list(Segment.objects.filter(shop=member.shop).select_related("created_by").order_by("name"))
    rows = [
        {
            "segment": s,
            "count": fan_count(member.shop, s.filter),
            "url": f"{reverse('crm-fans')}?{filter_query(member.shop_id, s.filter)}",
            "can_delete": may_act_on_work_of(member, s.created_by_id),
        }
        for s in segments
    ]
    return render(request, "fans/crm/segments.html", _base_context(request, member, rows=rows))


@login_required
def fan_import(request: HttpRequest) -> HttpResponse:
    member = _membership(request)
    return render(
        request, "fans/crm/import.html", _base_context(request, member, config={"shop": member.shop_id})
    )


@login_required
def fan_import_template(request: HttpRequest) -> HttpResponse:
    """A CSV template to fill in (UTF-8 with a BOM so spreadsheet apps open it correctly)."""
    _membership(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["fan_id", "username", "tags", "notes", "assigned_to"])
    writer.writerow(["", "fan_username", "skin_type:oily;preference:value", "likes samples", ""])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="fansi-import-template.csv"'
    return response


@login_required
def team(request: HttpRequest) -> HttpResponse:
    """Team members, roles and assigned fans; the owner manages staff, owners and managers hand fans over."""
    member = _membership(request)
    assigned = dict(
        Fan.objects.filter(shop=member.shop, assigned_to__isnull=False)
        .values_list("assigned_to")
        .annotate(n=Count("pk"))
        .values_list("assigned_to", "n")
    )
    members = list(
        ShopMember.objects.filter(shop=member.shop).select_related("user").order_by("-is_active", "pk")
    )
    rows = [
        {
            "member": m,
            "name": m.user.get_full_name() or m.user.get_username(),
            "assigned": assigned.get(m.user_id, 0),
        }
        for m in members
    ]
    audit: list[dict[str, Any]] = []
    if is_managing(member):
        names = {m.user_id: r["name"] for m, r in zip(members, rows, strict=True)}
        for entry in AuditLog.objects.filter(shop=member.shop).select_related("actor")[:AUDIT_ROWS]:
            detail = ""
            if entry.action == "team.handover":
                detail = f"{names.get(entry.detail.get('from_user'), '?')} → " + (
                    names.get(entry.detail.get("to_user"), "?")
                    if entry.detail.get("to_user")
                    else _("nobody")
                )
            audit.append(
                {
                    "entry": entry,
                    "label": audit_action_label(entry.action),
                    "detail": detail,
                    "actor": entry.actor.get_username() if entry.actor else "",
                }
            )
    roles = [(ShopRole.MANAGER, ShopRole.MANAGER.label), (ShopRole.ASSISTANT, ShopRole.ASSISTANT.label)]
    context = _base_context(
        request, member, rows=rows, audit=audit, roles=roles, config={"shop": member.shop_id}
    )
    return render(request, "fans/crm/team.html", context)


@login_required
def my_privacy(request: HttpRequest) -> HttpResponse:
    """For fans: which tags each shop holds on me, and a button per shop to have them removed."""
    fans = Fan.objects.filter(user=request.user).select_related("shop").order_by("shop_id")
    source_labels = dict(TagSource.choices)
    shops = []
    for fan in fans:
        tags = selectors.fan_tag_details(fan)
        for t in tags:
            t["source_label"] = source_labels.get(t["source"], t["source"])
            t["age"] = _age(t["created_at"])
        shops.append({"fan": fan, "shop": fan.shop, "tags": tags})
    return render(
        request, "fans/crm/privacy.html", {"shops": shops, "sections": privacy_sections_render(request)}
    )
