"""The campaign page's share and sign-up parts: link preview tags, who joined (initials only), the deadline
in shop time, and what the in-place sign-up (static/fansi/signup.js) needs."""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from core.errors import NotFound
from fans.chat.models import Fan
from preorders import sharing
from preorders.access import access_campaign
from preorders.models import Campaign
from preorders.poster import render_poster
from preorders.selectors import campaign_current_unit_price

OG_DESCRIPTION_LENGTH = 150


def _ref(request: HttpRequest) -> str:
    return request.GET.get("ref", "").strip()[:32]


def visitor_context(request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    product = campaign.product
    picture = product.image.url if product.image else ""
    price = campaign_current_unit_price(campaign)
    description = _("%(shop)s · ¥%(price)s now, %(n)s of %(target)s committed. %(text)s") % {
        "shop": campaign.shop.name,
        "price": price,
        "n": campaign.committed_quantity,
        "target": campaign.target_quantity,
        "text": product.description,
    }
    return {
        "share_url": sharing.share_url(request, campaign, sharing.sharer_code(request.user, campaign)),
        **sharing.pledgers(campaign),
        "og": {
            "title": campaign.title,
            "description": description.strip()[:OG_DESCRIPTION_LENGTH],
            # The product picture, or the poster (a PNG anyone with the link may see) when it has none.
            "image": request.build_absolute_uri(
                picture or reverse("campaign-share-image", args=[campaign.pk])
            ),
            "url": request.build_absolute_uri(reverse("campaign-fan", args=[campaign.pk])),
        },
    }


def visitor_config(request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    user = request.user
    following = user.is_authenticated and Fan.objects.filter(shop_id=campaign.shop_id, user=user).exists()
    return {
        "anonymous": not user.is_authenticated,
        "following": following,
        "ref": _ref(request),
        "phone_code_api": reverse("api-phone-code"),
        "phone_login_api": reverse("api-phone-login"),
        "follow_api": reverse("api-follows"),
    }


def campaign_share_image(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The poster as a public picture for link previews (og:image) of a launched campaign: counts, no names."""
    try:
        campaign, _is_staff = access_campaign(AnonymousUser(), campaign_id)
    except NotFound:
        raise Http404 from None
    png = render_poster(
        campaign,
        shop_url=request.build_absolute_uri(reverse("fan-chat", kwargs={"shop_slug": campaign.shop.slug})),
        join_url=request.build_absolute_uri(reverse("campaign-join", args=[campaign.pk])),
    )
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"  # previews are fetched by chat apps' crawlers
    return response
