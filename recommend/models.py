"""Recommendation data: what fans did with products, product tags in the fan vocabulary, model versions."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fans.chat.models import Fan
from fans.crm.models import Tag
from shops.models import Product, Shop


class InteractionKind(models.TextChoices):
    PLEDGE = "pledge", _("Pledge")
    PURCHASE = "purchase", _("Purchase")
    CARD_CLICK = "card_click", _("Card click")
    MENTION = "mention", _("Mention in chat")


# Strong kinds are commitments: they train the model most and exclude the product from the fan's picks.
STRONG_KINDS: frozenset[str] = frozenset({InteractionKind.PLEDGE, InteractionKind.PURCHASE})
# Training weight per kind (summed per fan and product). See docs/recommend-eval.md, "Serving".
KIND_WEIGHTS: dict[str, float] = {
    InteractionKind.PLEDGE: 3.0,
    InteractionKind.PURCHASE: 3.0,
    InteractionKind.MENTION: 1.0,
    InteractionKind.CARD_CLICK: 0.5,
}


class Interaction(models.Model):
    """A fan did something with a product. `key` makes recording idempotent (e.g. "pledge:17")."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    fan = models.ForeignKey(Fan, on_delete=models.CASCADE, related_name="interactions")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=16, choices=InteractionKind.choices)
    weight = models.FloatField()
    key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=InteractionKind.values), name="interaction_kind_valid"
            ),
            models.CheckConstraint(condition=Q(weight__gt=0), name="interaction_weight_positive"),
            models.UniqueConstraint(
                fields=["fan", "kind", "key"], condition=~Q(key=""), name="interaction_unique_key"
            ),
        ]
        indexes = [
            models.Index(fields=["fan", "kind"], name="interaction_fan_kind"),
            models.Index(fields=["product", "kind"], name="interaction_product_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.fan_id} {self.kind} {self.product_id}"


class ProductTagSource(models.TextChoices):
    DESCRIPTION = "description", _("Derived from the description")
    STAFF = "staff", _("Staff")


class ProductTag(models.Model):
    """A product feature in the fan vocabulary: "suits oily skin" is the tag skin_type:oily."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="recommend_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="product_tags")
    source = models.CharField(max_length=16, choices=ProductTagSource.choices, default=ProductTagSource.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("product tag")
        verbose_name_plural = _("product tags")
        constraints = [
            models.UniqueConstraint(fields=["product", "tag"], name="producttag_unique"),
            models.CheckConstraint(
                condition=Q(source__in=ProductTagSource.values), name="producttag_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}:{self.tag_id}"


class ModelStatus(models.TextChoices):
    TRAINING = "training", _("Training")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class ModelVersion(models.Model):
    """One training run and its artifacts (a folder under the artifacts dir). At most one serves."""

    version = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=10, choices=ModelStatus.choices, default=ModelStatus.TRAINING)
    is_serving = models.BooleanField(default=False)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=100, blank=True)
    n_fans = models.PositiveIntegerField(default=0)
    n_products = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    popularity_only = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)
    # {regime: {ranker: {precision_at_k, recall_at_k, auc}}}, test metrics of the evaluation run.
    metrics = models.JSONField(default=dict, blank=True)
    # {regime: {"name": ranker name, "recipe": description}}
    served = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)
    fit_seconds = models.FloatField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_serving"], condition=Q(is_serving=True), name="modelversion_one_serving"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ModelStatus.values), name="modelversion_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=1), name="modelversion_progress_range"
            ),
            models.CheckConstraint(
                condition=Q(is_serving=False) | Q(status=ModelStatus.READY),
                name="modelversion_serving_is_ready",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"
