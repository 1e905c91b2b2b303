from django.contrib import admin

from shops.models import Product, Shop, ShopMember, Variant


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


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "shop", "category", "brand", "price", "is_available"]
    list_filter = ["category", "is_available", "shop"]
    search_fields = ["name", "brand"]
    inlines = [VariantInline]
