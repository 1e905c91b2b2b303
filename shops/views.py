"""Owner self-service pages: sign up, create the shop, the shop's products. Thin: writes go through services
(shops.services, shops.products); a service's coded error lands next to the field it names."""

from typing import Any

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError, NotFound
from shops import products, selectors, services
from shops.access import access_product, access_shop_membership, staff_shop_ids
from shops.forms import OwnerSignupForm, PickForm, ProductForm, ShopForm
from shops.models import Product, ShopMember
from shops.roles import is_managing

# Which form field a service error belongs to, by its code (the rest show above the form).
FIELD_OF_CODE = {
    "slug_invalid": "slug",
    "slug_taken": "slug",
    "timezone_invalid": "timezone",
    "name_required": "name",
    "name_too_long": "name",
    "image_invalid": "image",
    "price_invalid": "price",
    "price_out_of_bounds": "price",
    "category_invalid": "category",
}


def _attach(form: Form, err: DomainError, *, image_field: str = "image") -> None:
    field = FIELD_OF_CODE.get(err.code)
    if field == "image":
        field = image_field
    form.add_error(field if field in form.fields else None, err.message)


@require_http_methods(["GET", "POST"])
def owner_signup(request: HttpRequest) -> HttpResponse:
    """A new account that goes straight on to create its shop."""
    if request.user.is_authenticated:
        return redirect("inbox" if staff_shop_ids(request.user) else "shop-new")
    form = OwnerSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("shop-new")
    return render(request, "shops/signup_owner.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def shop_new(request: HttpRequest) -> HttpResponse:
    if staff_shop_ids(request.user):
        return redirect("inbox")
    form = ShopForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            shop = services.shop_create(
                user=request.user,
                name=data["name"],
                slug=data["slug"],
                timezone=data["timezone"],
                description=data["description"],
                avatar=request.FILES.get("avatar"),
            )
        except DomainError as err:
            _attach(form, err, image_field="avatar")
        else:
            return redirect(reverse("product-new") + f"?shop={shop.pk}&welcome=1")
    return render(
        request,
        "shops/shop_new.html",
        {"form": form, "config": {"slug_api": reverse("api-shop-slug-check")}},
    )


def _member(request: HttpRequest) -> ShopMember:
    raw = request.GET.get("shop") or request.POST.get("shop") or None
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


def _base(request: HttpRequest, member: ShopMember) -> dict[str, Any]:
    return {
        "shop": member.shop,
        "membership": member,
        "my_shops": _my_shops(request),
        "can_manage": is_managing(member),
    }


@login_required
def product_list_page(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    rows = selectors.product_list(shop=member.shop).order_by("-is_available", "-pk")
    return render(request, "shops/product_list.html", {**_base(request, member), "products": rows})


def _variants_from_post(request: HttpRequest) -> list[products.VariantIn]:
    ids, names = request.POST.getlist("variant_id"), request.POST.getlist("variant_name")
    skus, prices = request.POST.getlist("variant_sku"), request.POST.getlist("variant_price")
    rows = []
    for i, name in enumerate(names):
        sku = skus[i] if i < len(skus) else ""
        price = prices[i] if i < len(prices) else ""
        vid = ids[i] if i < len(ids) else ""
        if not (name.strip() or sku.strip()):
            continue  # an empty row the owner added and left
        rows.append(
            products.VariantIn(
                name=name, sku=sku, price=price or None, id=int(vid) if vid.isdigit() else None
            )
        )
    return rows


def _product_form_page(
    request: HttpRequest, member: ShopMember, *, product: Product | None, form: ProductForm, **extra: Any
) -> HttpResponse:
    if product is not None:
        variants = [v for v in product.variants.all() if v.is_available]
    else:
        variants = _variants_from_post(request) if request.method == "POST" else []
    catalogue = list(products.catalogue_list()[:200]) if product is None else []
    return render(
        request,
        "shops/product_form.html",
        {
            **_base(request, member),
            "product": product,
            "form": form,
            "variants": variants,
            "catalogue": catalogue,
            "picked": set(
                Product.objects.filter(
                    shop=member.shop, is_available=True, factory_product__isnull=False
                ).values_list("factory_product_id", flat=True)
            ),
            "welcome": request.GET.get("welcome") == "1",
            **extra,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_new(request: HttpRequest) -> HttpResponse:
    member = _member(request)
    if not is_managing(member):
        raise Http404
    form = ProductForm(request.POST or None, request.FILES or None)
    pick_error: dict[str, str] = {}
    if request.method == "POST" and request.POST.get("mode") == "pick":
        form = ProductForm()
        pick = PickForm(request.POST)
        if pick.is_valid():
            try:
                product = products.product_pick(
                    member=member,
                    factory_product_id=pick.cleaned_data["factory_product"],
                    price=pick.cleaned_data["price"],
                )
            except DomainError as err:
                pick_error = {"id": request.POST.get("factory_product", ""), "message": err.message}
            else:
                return _after_save(request, member, product)
        else:
            pick_error = {
                "id": request.POST.get("factory_product", ""),
                "message": _("Enter a price above zero."),
            }
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            product = products.product_create(
                member=member,
                name=data["name"],
                price=data["price"],
                variants=_variants_from_post(request),
                category=data["category"],
                brand=data["brand"],
                description=data["description"],
                image=request.FILES.get("image"),
            )
        except DomainError as err:
            _attach(form, err)
        else:
            return _after_save(request, member, product)
    return _product_form_page(request, member, product=None, form=form, pick_error=pick_error)


def _after_save(request: HttpRequest, member: ShopMember, product: Product) -> HttpResponse:
    # A shop's first product: on to its first campaign, the next step of the checklist.
    if Product.objects.filter(shop=member.shop).count() == 1:
        return redirect(reverse("campaign-new") + f"?shop={member.shop_id}&product={product.pk}")
    return redirect(reverse("products") + f"?shop={member.shop_id}")


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    try:
        product, member = access_product(request.user, product_id)
    except NotFound:
        raise Http404 from None
    if not is_managing(member):
        raise Http404
    initial = {k: getattr(product, k) for k in ("name", "category", "price", "brand", "description")}
    form = ProductForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = {k: form.cleaned_data[k] for k in ("name", "category", "price", "brand", "description")}
        try:
            with transaction.atomic():
                products.product_update(
                    member=member,
                    product=product,
                    fields=fields,
                    variants=_variants_from_post(request),
                    image=request.FILES.get("image"),
                )
        except DomainError as err:
            _attach(form, err)
        else:
            return redirect(reverse("products") + f"?shop={member.shop_id}")
    return _product_form_page(request, member, product=product, form=form)


@login_required
@require_POST
def product_retire_page(request: HttpRequest, product_id: int) -> HttpResponse:
    try:
        product, member = access_product(request.user, product_id)
        products.product_retire(member=member, product=product)
    except NotFound:
        raise Http404 from None
    except DomainError:
        raise PermissionDenied from None
    return redirect(reverse("products") + f"?shop={member.shop_id}")
