"""Fans' reviews of delivered items, their photos and the shop's public reply.

Kept beside models.py (which re-exports these). One review per pledge (the database keeps that), 1-5 stars;
`suits` holds the fan's "suits my skin type" answers by tag group code; `show_name` is the fan's opt-in to
show their display name (never shown otherwise).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from preorders.models import Pledge
from shops.models import Product


class Review(models.Model):
    """A fan's review of one delivered pledge."""

    pledge = models.OneToOneField(Pledge, on_delete=models.CASCADE, related_name="review")
    # Copied from the pledge's campaign so product pages and the board read one table.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    stars = models.PositiveSmallIntegerField(_("stars"))
    text = models.TextField(_("text"), max_length=2000, blank=True)
    suits = models.JSONField(_("suits"), default=dict, blank=True)
    show_name = models.BooleanField(_("show my name"), default=False)
    hidden = models.BooleanField(default=False)  # hidden by moderation
    reply = models.TextField(_("shop reply"), max_length=1000, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        constraints = [
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="review_stars_1_5"),
            models.CheckConstraint(
                condition=Q(reply="", replied_at__isnull=True) | (~Q(reply="") & Q(replied_at__isnull=False)),
                name="review_reply_consistent",
            ),
        ]
        indexes = [models.Index(fields=["product", "-created_at"], name="review_product_recent")]

    def __str__(self) -> str:
        return f"{self.stars}★ on pledge {self.pledge_id}"


class ReviewPhoto(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="reviews/")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("review photo")
        verbose_name_plural = _("review photos")
        ordering = ["review_id", "position", "pk"]

    def __str__(self) -> str:
        return f"photo {self.position} of review {self.review_id}"
