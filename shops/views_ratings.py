"""The 红黑榜 page for shop staff: browse the board per entity type and category, and (owners, managers) rate."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from core.errors import DomainError
from shops import ratings
from shops.models import Category
from shops.rating_models import EntityType, RatingReason
from shops.views import _base, _member


@login_required
def ratings_page(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    source = request.POST if request.method == "POST" else request.GET
    entity_type = source.get("entity_type") or EntityType.PRODUCT
    if entity_type not in EntityType.values:
        entity_type = EntityType.PRODUCT
    category = source.get("category") or ""
    if category not in Category.values:
        category = ""
    if request.method == "POST":
        data = {k: request.POST.get(k) for k in ("entity_type", "entity_id", "verdict", "reason", "text")}
        data["shop"] = member.shop_id
        try:
            ratings.rate(user=request.user, data=data)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your shop's rating is saved."))
        url = reverse("ratings") + f"?shop={member.shop_id}&entity_type={entity_type}&category={category}"
        return redirect(url)
    products = member.shop.products.order_by("-pk").values_list("pk", "name")[:200]
    context = {
        **_base(request, member),
        "rows": ratings.board(entity_type, category or None),
        "entity_type": entity_type,
        "category": category,
        "entity_types": EntityType.choices,
        "categories": Category.choices,
        "reasons": RatingReason.choices,
        "own_products": list(products),
    }
    return render(request, "shops/ratings.html", context)
