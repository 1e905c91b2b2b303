from django.contrib import admin

from shops.models import Factory, FactoryProduct, FactoryVariant, Product, Shop, ShopMember, Variant


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


class FactoryProductInline(admin.TabularInline):
    model = FactoryProduct
    extra = 0


@admin.register(Factory)
class FactoryAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "contact", "created_at"]
    search_fields = ["name"]
    inlines = [FactoryProductInline]


class FactoryVariantInline(admin.TabularInline):
    model = FactoryVariant
    extra = 0


@admin.register(FactoryProduct)
class FactoryProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "factory", "moq", "lead_time_days", "unit_cost", "currency"]
    list_filter = ["factory"]
    search_fields = ["name", "factory__name"]
    inlines = [FactoryVariantInline]
