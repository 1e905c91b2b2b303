import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


def new_invite_code() -> str:
    return secrets.token_urlsafe(9)


class Shop(models.Model):
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_shops")
    invite_code = models.CharField(max_length=32, unique=True, default=new_invite_code)
    description = models.TextField(_("description"), blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return self.name


class ShopRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    ASSISTANT = "assistant", _("Assistant")


class ShopMember(models.Model):
    """A person who works for a shop: the owner, a manager or an assistant."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shop_memberships"
    )
    role = models.CharField(max_length=16, choices=ShopRole.choices, default=ShopRole.ASSISTANT)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop staff member")
        verbose_name_plural = _("shop staff")
        constraints = [
            models.UniqueConstraint(fields=["shop", "user"], name="shopmember_unique_user"),
            models.CheckConstraint(condition=Q(role__in=ShopRole.values), name="shopmember_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.shop} ({self.role})"


class Category(models.TextChoices):
    BEAUTY = "beauty", _("Beauty")
    # A context of its own: the admin's "Home" breadcrumb is the same English word (首页, not 家居).
    HOME = "home", pgettext_lazy("product category", "Home")
    FRUIT = "fruit", _("Fruit")
    CLOTHING = "clothing", _("Clothing")


class Factory(models.Model):
    """A manufacturer whose products many shops can sell (C2M)."""

    name = models.CharField(_("name"), max_length=200)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    # The directory (工厂优选): what it makes, where (产地), its usual minimum order and speed.
    category = models.CharField(_("category"), max_length=32, choices=Category.choices, default=Category.HOME)
    origin = models.CharField(_("place of origin"), max_length=100, blank=True)
    moq = models.PositiveIntegerField(_("minimum order quantity"), default=1)
    lead_time_days = models.PositiveIntegerField(_("lead time (days)"), default=0)
    capacity_per_week = models.PositiveIntegerField(_("capacity per week"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("factory")
        verbose_name_plural = _("factories")

    def __str__(self) -> str:
        return self.name


class FactoryProduct(models.Model):
    factory = models.ForeignKey(Factory, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(_("name"), max_length=200)
    moq = models.PositiveIntegerField(_("minimum order quantity"), default=1)
    lead_time_days = models.PositiveIntegerField(_("lead time (days)"), default=0)
    unit_cost = models.DecimalField(_("unit cost"), max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    category = models.CharField(_("category"), max_length=32, choices=Category.choices, default=Category.HOME)
    description = models.TextField(_("description"), blank=True)
    # The retail prices a shop may set when it picks this product from the platform catalogue (选品).
    retail_price_min = models.DecimalField(
        _("lowest retail price"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    retail_price_max = models.DecimalField(
        _("highest retail price"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    in_catalogue = models.BooleanField(_("offered to shops"), default=True)
    # 产地: where it is made, free text (a 红黑榜 entity by name).
    origin = models.CharField(_("origin"), max_length=100, blank=True, db_index=True)

    class Meta:
        verbose_name = _("factory product")
        verbose_name_plural = _("factory products")
        constraints = [
            models.CheckConstraint(condition=Q(moq__gte=1), name="factoryproduct_moq_positive"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="factoryproduct_cost_non_negative"),
            models.CheckConstraint(
                condition=Q(retail_price_min__isnull=True)
                | Q(retail_price_max__isnull=True)
                | Q(retail_price_min__lte=F("retail_price_max")),
                name="factoryproduct_retail_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.factory} / {self.name}"


class FactoryVariant(models.Model):
    """A size, colour or spec of a factory product, with its own minimum order quantity."""

    factory_product = models.ForeignKey(FactoryProduct, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(_("name"), max_length=100)
    sku = models.CharField(max_length=64, unique=True)
    moq = models.PositiveIntegerField(_("minimum order quantity"), default=0)

    class Meta:
        verbose_name = _("factory variant")
        verbose_name_plural = _("factory variants")
        constraints = [
            models.UniqueConstraint(fields=["factory_product", "name"], name="factoryvariant_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.factory_product.name} / {self.name}"


class Product(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    image = models.ImageField(upload_to="products/", blank=True)
    is_available = models.BooleanField(_("available"), default=True)
    factory_product = models.ForeignKey(
        FactoryProduct, null=True, blank=True, on_delete=models.SET_NULL, related_name="shop_products"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_non_negative")]
        indexes = [models.Index(fields=["shop", "category"])]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(_("name"), max_length=100)
    sku = models.CharField(max_length=64, unique=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    is_available = models.BooleanField(default=True)
    factory_variant = models.ForeignKey(
        FactoryVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="shop_variants"
    )

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_non_negative")]

    def __str__(self) -> str:
        return f"{self.product.name} / {self.name}"


class ShopMilestone(models.Model):
    """A first time in a shop's life that no other row records, e.g. its poster first opened (onboarding)."""

    class Key(models.TextChoices):
        POSTER_SHARED = "poster_shared", _("Poster shared")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="milestones")
    key = models.CharField(max_length=32, choices=Key.choices)
    reached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop milestone")
        verbose_name_plural = _("shop milestones")
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="shopmilestone_unique_key")]

    def __str__(self) -> str:
        return f"{self.shop} · {self.key}"


# Phone sign-in lives in its own module; imported here so Django finds its models.
from shops.auth_models import PhoneAccount, PhoneCode  # noqa: E402, F401
from shops.rating_models import Rating, RatingScore  # noqa: E402, F401
