from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from shops.models import (
    Factory,
    FactoryProduct,
    FactoryVariant,
    Product,
    Shop,
    ShopMember,
    ShopMilestone,
    Variant,
)
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
