"""A logged-in person with no shop at all (neither on a team nor a fan) who opens a shop tool is sent to create
their shop, not to a 404: a new owner, or one whose shop is not made yet."""

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from shops.access import staff_shop_ids
from shops.models import Shop

# The staff pages that take no object id: for them "not your shop" can only mean "no shop yet".
STAFF_LIST_PAGES = frozenset(
    {
        "inbox",
        "crm-fans",
        "crm-import",
        "crm-segments",
        "crm-team",
        "bot-settings",
        "broadcasts",
        "campaigns",
        "campaign-new",
        "shop-settlement",
        "products",
        "product-new",
        "recommend-models",
    }
)


class NoShopRedirectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Http404) or not request.user.is_authenticated:
            return None
        match = request.resolver_match
        if match is None or match.url_name not in STAFF_LIST_PAGES or request.GET.get("shop"):
            return None
        # Fans keep their 404 (a shop tool is not for them); someone with no shop at all is a new owner.
        if staff_shop_ids(request.user) or Shop.objects.filter(fans__user=request.user).exists():
            return None
        return redirect("shop-new")
