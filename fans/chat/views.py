"""Server-rendered chat pages. Thin: reads go through selectors/access, writes through services."""

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from core.errors import NotFound
from fans.chat import selectors, services
from fans.chat.access import access_conversation
from fans.chat.forms import JoinForm
from fans.chat.hooks import chat_page_panels_render, conversation_fan_filters, shop_showcase, triage_filters
from fans.chat.models import Fan, Side
from fans.chat.presence import online_user_ids
from shops.access import access_shop_membership, staff_shop_ids
from shops.models import Shop, ShopMember
from shops.onboarding import onboarding_checklist

HISTORY_PAGE = 50


class FansiLoginView(LoginView):
    template_name = "fans/login.html"
    redirect_authenticated_user = True


def _followed(user: Any) -> list[Fan]:
    return list(Fan.objects.filter(user=user).select_related("shop").order_by("joined_at", "pk"))


def home(request: HttpRequest) -> HttpResponse:
    """Send each person where they work: staff to the inbox, a fan to their shop's chat."""
    if not request.user.is_authenticated:
        return redirect("login")
    if staff_shop_ids(request.user):
        return redirect("inbox")
    follows = _followed(request.user)
    if len(follows) == 1:
        return redirect("fan-chat", shop_slug=follows[0].shop.slug)
    return render(request, "fans/my_shops.html", {"follows": follows})


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, invite_code: str) -> HttpResponse:
    """A shop's invite link: sign up (anonymous) or follow (logged in), then open the chat."""
    shop = get_object_or_404(Shop, invite_code=invite_code)
    chat_url = reverse("fan-chat", kwargs={"shop_slug": shop.slug})
    if request.user.is_authenticated:
        already = Fan.objects.filter(shop=shop, user=request.user).exists()
        if request.method == "POST":
            services.fan_follow(user=request.user, shop=shop, via="invite")
            return redirect(chat_url)
        return render(request, "fans/join.html", {"shop": shop, "already": already, "chat_url": chat_url})

    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            services.fan_follow(
                user=user, shop=shop, display_name=form.cleaned_data["display_name"], via="invite"
            )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(chat_url)
    return render(request, "fans/join.html", {"shop": shop, "form": form, "chat_url": chat_url})


def _history(conversation_id: int, user: Any) -> tuple[list[dict[str, Any]], bool]:
    conversation, _side = access_conversation(user, conversation_id)
    rows = selectors.message_list_before(
        conversation=conversation, before_seq=conversation.last_seq + 1, limit=HISTORY_PAGE + 1
    )
    has_more = len(rows) > HISTORY_PAGE
    return [selectors.message_to_dict(m) for m in rows[-HISTORY_PAGE:]], has_more


def _chat_config(request: HttpRequest, conversation: Any, side: str, **extra: Any) -> dict[str, Any]:
    messages, has_more = _history(conversation.pk, request.user)
    return {
        "me": request.user.pk,
        "side": side,
        "conversation": conversation.pk,
        "messages": messages,
        "has_more": has_more,
        "fan_read_seq": conversation.fan_read_seq,
        "shop_read_seq": conversation.shop_read_seq,
        "max_length": settings.FANSI_CHAT["MAX_TEXT_LENGTH"],
        **extra,
    }


def fan_chat(request: HttpRequest, shop_slug: str) -> HttpResponse:
    """The fan's private conversation with one shop (mobile first); a logged-out visitor sees its preview."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    if not request.user.is_authenticated:
        return shop_preview(request, shop)
    fan = Fan.objects.filter(shop=shop, user=request.user).select_related("conversation").first()
    if fan is None:
        return render(request, "fans/not_following.html", {"shop": shop})
    conversation, side = access_conversation(request.user, fan.conversation.pk)
    config = _chat_config(request, conversation, side, mode="fan", shop=shop.pk)
    return render(
        request,
        "fans/chat_fan.html",
        {
            "shop": shop,
            "fan": fan,
            "conversation": conversation,
            "config": config,
            "panels": chat_page_panels_render(request, "fan", shop, conversation),
        },
    )


def shop_preview(request: HttpRequest, shop: Shop) -> HttpResponse:
    """The public face of a shop for a shared link: name, description and what it offers now (hooks)."""
    items = [item for _key, provider in shop_showcase.items() for item in provider(shop)]
    image = next((i["image"] for i in items if i.get("image")), "")
    return render(
        request,
        "fans/shop_public.html",
        {
            "shop": shop,
            "items": items,
            "og_image": request.build_absolute_uri(image) if image else "",
            "login_url": f"{reverse('login')}?next={request.path}",
        },
    )


ASSIGNEE_SPECIAL = {"mine", "unassigned", ""}
TRIAGE_LABELS = {
    "awaiting_reply": gettext_lazy("Awaiting reply"),
    "mine": gettext_lazy("Assigned to me"),
    "unread": gettext_lazy("Unread"),
}


def _triage_chips(request: HttpRequest, shop_id: int, active: str, **keep: str) -> list[dict[str, Any]]:
    """A chip per triage filter with its count; a chip's link turns it on (or off, when on)."""
    counts = selectors.triage_counts(user=request.user, shop_id=shop_id)
    base = reverse("inbox")
    return [
        {
            "name": name,
            "label": TRIAGE_LABELS.get(name) or triage_filters.get(name).label,
            "count": counts[name],
            "active": name == active,
            "url": f"{base}?{_keep_params(shop=str(shop_id), filter='' if name == active else name, **keep)}",
        }
        for name in selectors.triage_filter_names()
    ]


def _keep_params(**params: str) -> str:
    """The inbox's filters as a query string, so opening a conversation keeps them (and the URL says them)."""
    return urlencode({k: v for k, v in params.items() if v})


@login_required
def inbox(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    """Shop staff's inbox: the conversation list and, beside it, the open conversation."""
    shop_param = request.GET.get("shop") or None
    try:
        shop_id = int(shop_param) if shop_param else None
        if conversation_id is None and request.GET.get("c"):
            conversation_id = int(request.GET["c"])
    except ValueError:
        raise Http404 from None

    open_conversation = None
    side = None
    try:
        if conversation_id is not None:
            open_conversation, side = access_conversation(request.user, conversation_id)
            if side != Side.SHOP:
                raise NotFound()
            if shop_id is None:
                shop_id = open_conversation.shop_id
        membership = access_shop_membership(request.user, shop_id)
    except NotFound:
        raise Http404 from None
    shop = membership.shop
    if open_conversation is not None and open_conversation.shop_id != shop.pk:
        raise Http404

    q = request.GET.get("q", "").strip()[:100]
    assignee = request.GET.get("assigned", "").strip()
    team = list(ShopMember.objects.filter(shop=shop, is_active=True).select_related("user").order_by("pk"))
    team_ids = {m.user_id for m in team}
    if assignee == "mine":
        assigned_to: str | int | None = request.user.pk
    elif assignee == "unassigned":
        assigned_to = "unassigned"
    elif assignee.isdigit() and int(assignee) in team_ids:
        assigned_to = int(assignee)
    else:
        assignee, assigned_to = "", None
    triage = request.GET.get("filter", "").strip()
    if triage not in selectors.triage_filter_names():
        triage = ""
    tag_filter = conversation_fan_filters.get("tag")
    tag_choices = tag_filter.choices(shop)
    tag = request.GET.get("tag", "").strip()
    if tag not in {value for value, _label in tag_choices}:
        tag = ""
    conversations = list(
        selectors.conversation_list(
            user=request.user,
            shop_id=shop.pk,
            q=q,
            assigned_to=assigned_to,
            triage=triage or None,
            fans=tag_filter.q([shop.pk], tag) if tag else None,
        )[:200]
    )
    my_shops = (
        ShopMember.objects.filter(user=request.user, is_active=True)
        .select_related("shop")
        .order_by("shop_id")
    )

    config = None
    if open_conversation is not None:
        config = _chat_config(
            request,
            open_conversation,
            Side.SHOP,
            mode="inbox",
            shop=shop.pk,
            assigned_to=open_conversation.assigned_to_id,
        )
    else:
        config = {
            "me": request.user.pk,
            "side": Side.SHOP,
            "mode": "inbox",
            "shop": shop.pk,
            "conversation": None,
            "max_length": settings.FANSI_CHAT["MAX_TEXT_LENGTH"],
        }
    config["filtered"] = bool(q or assignee or triage or tag)
    if open_conversation is not None:
        # The fan's presence, not this page's own connection (chat.js follows "presence" frames).
        fan_user = open_conversation.fan.user_id
        config["fan_user"] = fan_user
        config["fan_online"] = fan_user in online_user_ids([fan_user])
    config["team"] = {str(m.user_id): m.user.get_full_name() or m.user.get_username() for m in team}
    context = {
        "shop": shop,
        "membership": membership,
        "my_shops": my_shops,
        "conversations": conversations,
        "open": open_conversation,
        "team": team,
        "q": q,
        "assignee": assignee,
        "triage": triage,
        "triage_chips": _triage_chips(request, shop.pk, triage, q=q, assigned=assignee, tag=tag),
        "tag": tag,
        "tag_choices": tag_choices,
        "keep": _keep_params(q=q, assigned=assignee, filter=triage, tag=tag),
        "config": config,
        # The hooks' extras (reach: the notification switch beside the list, reminders in the thread).
        "list_panels": chat_page_panels_render(request, "inbox", shop, None),
        "thread_panels": chat_page_panels_render(request, "inbox", shop, open_conversation)
        if open_conversation is not None
        else [],
        "invite_url": request.build_absolute_uri(reverse("join", kwargs={"invite_code": shop.invite_code})),
        # A new shop's empty inbox: the steps to a first campaign, ticked from data.
        "checklist": onboarding_checklist(shop=shop)
        if not conversations and not (q or assignee or triage or tag)
        else [],
    }
    return render(request, "fans/inbox.html", context)
