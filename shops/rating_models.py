"""红黑榜: shops rate products, brands, factories and origins red (recommend) or black (do not).

One Rating per shop per entity (a shop counts once, whatever its team size). entity_id is a string: the
product's or factory's id, or the brand's or origin's name (brands and origins are free text on products and
factory products). RatingScore holds each entity's aggregate, refreshed set-based after each rating and by a
beat sweep, so the board never aggregates per request.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EntityType(models.TextChoices):
    PRODUCT = "product", _("Product")
    BRAND = "brand", _("Brand")
    FACTORY = "factory", _("Factory")
    ORIGIN = "origin", _("Origin")


class Verdict(models.TextChoices):
    RED = "red", _("Red (recommend)")
    BLACK = "black", _("Black (do not)")


class RatingReason(models.TextChoices):
    QUALITY_GOOD = "quality_good", _("Good quality")
    VALUE_GOOD = "value_good", _("Good value")
    FAST_SHIP = "fast_ship", _("Ships fast")
    QUALITY_BAD = "quality_bad", _("Poor quality")
    FAKE = "fake", _("Fake or misdescribed")
    SLOW_SHIP = "slow_ship", _("Ships slowly")
    BAD_SERVICE = "bad_service", _("Bad service")
    OVERPRICED = "overpriced", _("Overpriced")
    OTHER = "other", _("Other")


class Rating(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="ratings")
    entity_type = models.CharField(_("entity type"), max_length=10, choices=EntityType.choices)
    entity_id = models.CharField(_("entity"), max_length=200)
    category = models.CharField(_("category"), max_length=32, blank=True)
    verdict = models.CharField(_("verdict"), max_length=5, choices=Verdict.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=RatingReason.choices)
    text = models.TextField(_("text"), blank=True)
    # 1, more when the shop sold the product (delivered units) and has an after-sales record for it.
    weight = models.FloatField(default=1.0)
    hidden = models.BooleanField(_("hidden by moderation"), default=False)
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("red/black rating")
        verbose_name_plural = _("red/black ratings")
        constraints = [
            models.UniqueConstraint(fields=["shop", "entity_type", "entity_id"], name="rating_one_per_shop"),
            models.CheckConstraint(condition=Q(verdict__in=Verdict.values), name="rating_verdict_valid"),
            models.CheckConstraint(condition=Q(entity_type__in=EntityType.values), name="rating_type_valid"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="rating_weight_at_least_one"),
        ]
        indexes = [
            models.Index(fields=["entity_type", "entity_id"], name="rating_entity"),
            models.Index(fields=["entity_type", "entity_id", "verdict", "created_at"], name="rating_burst"),
        ]

    def __str__(self) -> str:
        return f"{self.shop_id}: {self.entity_type} {self.entity_id} {self.verdict}"


class RatingStatus(models.TextChoices):
    RED = "red", _("Red")
    BLACK = "black", _("Black")
    NONE = "", _("Neither")


class RatingScore(models.Model):
    """An entity's aggregate over its visible ratings (shops.ratings.refresh_scores writes it)."""

    entity_type = models.CharField(max_length=10, choices=EntityType.choices)
    entity_id = models.CharField(max_length=200)
    category = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=200, blank=True)
    # Set for product entities, so the recommender reads a shop's red and black products with one join.
    product = models.ForeignKey(
        "shops.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    red = models.PositiveIntegerField(default=0)  # shops
    black = models.PositiveIntegerField(default=0)
    red_weight = models.FloatField(default=0)
    black_weight = models.FloatField(default=0)
    score = models.FloatField(default=0)  # Wilson lower bound on the weighted red share
    black_score = models.FloatField(default=0)  # the same on the black share
    status = models.CharField(max_length=5, choices=RatingStatus.choices, blank=True, default="")
    reasons = models.JSONField(default=dict)  # {code: count}
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("red/black score")
        verbose_name_plural = _("red/black scores")
        constraints = [
            models.UniqueConstraint(fields=["entity_type", "entity_id"], name="ratingscore_unique_entity"),
        ]
        indexes = [
            models.Index(fields=["entity_type", "category", "-score"], name="ratingscore_red_board"),
            models.Index(fields=["entity_type", "category", "-black_score"], name="ratingscore_black_board"),
            models.Index(fields=["product", "status"], name="ratingscore_product_status"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.entity_id}: {self.score:.2f}"
