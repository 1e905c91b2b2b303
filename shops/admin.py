from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from shops.models import (
    Factory,
    FactoryProduct,
    FactoryVariant,
    Product,
    Rating,
    RatingScore,
    Shop,
    ShopMember,
    ShopMilestone,
    Variant,
)
from shops.ratings import burst_rating_ids, ratings_moderate
from shops.services import shop_owner_ensure


class ShopMemberInline(admin.TabularInline):
    model = ShopMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "slug", "owner", "timezone", "created_at"]
    search_fields = ["name", "slug", "owner__username"]
    raw_id_fields = ["owner"]
    inlines = [ShopMemberInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # After the inlines, so a staff row edited there cannot take the owner's role away again.
        super().save_related(request, form, formsets, change)
        shop_owner_ensure(shop=form.instance)


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "shop", "category", "brand", "price", "is_available"]
    list_filter = ["category", "is_available", "shop"]
    search_fields = ["name", "brand"]
    inlines = [VariantInline]


class FactoryProductInline(admin.TabularInline):
    model = FactoryProduct
    extra = 0


@admin.register(Factory)
class FactoryAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "category", "origin", "moq", "lead_time_days", "capacity_per_week"]
    list_filter = ["category"]
    search_fields = ["name", "origin"]
    inlines = [FactoryProductInline]


class FactoryVariantInline(admin.TabularInline):
    model = FactoryVariant
    extra = 0


@admin.register(FactoryProduct)
class FactoryProductAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "factory",
        "moq",
        "lead_time_days",
        "unit_cost",
        "retail_price_min",
        "retail_price_max",
        "in_catalogue",
        "currency",
    ]
    list_editable = ["retail_price_min", "retail_price_max", "in_catalogue"]
    list_filter = ["factory", "in_catalogue", "category"]
    search_fields = ["name", "factory__name"]
    inlines = [FactoryVariantInline]


@admin.register(ShopMilestone)
class ShopMilestoneAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "key", "reached_at"]
    list_filter = ["key"]


# --- 红黑榜 moderation -------------------------------------------------------------------------------------


class NoSalesInCategoryFilter(admin.SimpleListFilter):
    """Ratings from shops that sell nothing in the rated entity's category (a weak signal: no evidence)."""

    title = _("shop sells in this category")
    parameter_name = "sells_in_category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", _("No sales in the category")), ("yes", _("Sells in the category"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        sells = Exists(Product.objects.filter(shop_id=OuterRef("shop_id"), category=OuterRef("category")))
        if self.value() == "no":
            return queryset.filter(~sells)
        if self.value() == "yes":
            return queryset.filter(sells)
        return queryset


class BurstFilter(admin.SimpleListFilter):
    """Rating bursts: entities with at least BURST_MIN new black ratings within the last hour."""

    title = _("rating burst")
    parameter_name = "burst"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", _("≥5 new black ratings on one entity in an hour"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() != "1":
            return queryset
        return queryset.filter(pk__in=burst_rating_ids())


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["id", "entity_type", "entity_id", "category", "verdict", "reason", "shop", "weight"]
    list_display += ["hidden", "created_at"]
    list_filter = ["entity_type", "verdict", "hidden", BurstFilter, NoSalesInCategoryFilter, "category"]
    search_fields = ["entity_id", "text", "shop__name"]
    raw_id_fields = ["shop", "rated_by"]
    actions = ["hide_ratings", "unhide_ratings"]

    @admin.action(description=_("Hide the selected ratings (they stop counting)"))
    def hide_ratings(self, request: HttpRequest, queryset: Any) -> None:
        ratings_moderate(list(queryset.values_list("pk", flat=True)), hidden=True)

    @admin.action(description=_("Show the selected ratings again"))
    def unhide_ratings(self, request: HttpRequest, queryset: Any) -> None:
        ratings_moderate(list(queryset.values_list("pk", flat=True)), hidden=False)


@admin.register(RatingScore)
class RatingScoreAdmin(admin.ModelAdmin):
    list_display = ["entity_type", "entity_id", "name", "category", "red", "black", "score", "black_score"]
    list_display += ["status", "updated_at"]
    list_filter = ["entity_type", "status", "category"]
    search_fields = ["entity_id", "name"]
    readonly_fields = [f.name for f in RatingScore._meta.fields]
