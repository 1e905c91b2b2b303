"""Fans' reviews of delivered items: write one (once per pledge), the shop's public reply, and reads.

A review needs a delivered parcel carrying the pledge. Photos (at most 3) are checked by Pillow and
re-encoded without EXIF before anything is written. Public reads never carry the fan's name unless they
opted in; they carry the fan's tags in the groups scoped to the product's category (e.g. "油皮 · 4★").
"""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.limits import MANAGING_ROLES
from fans.crm.models import FanTag, TagGroup
from preorders.access import access_pledge
from preorders.models import Review, ReviewPhoto
from preorders.services.after_sales import pledge_delivered_at
from shops.images import picture_clean
from shops.models import Product, ShopMember

MAX_PHOTOS = 3
TEXT_MAX = 2000
REPLY_MAX = 1000


def _stars_clean(value: Any) -> int:
    if isinstance(value, bool):
        value = None
    try:
        stars = int(str(value).strip()) if value is not None else None
    except ValueError:
        stars = None
    if stars is None or str(value).strip() != str(stars) or not 1 <= stars <= 5:
        raise Invalid(_("Give 1 to 5 stars."), code="stars_invalid")
    return stars


def _text_clean(value: Any, limit: int, code: str) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        raise Invalid(_("The text is longer than %(n)d characters.") % {"n": limit}, code=code)
    return text


def product_tag_groups(product: Product) -> QuerySet[TagGroup]:
    """The tag groups a product's reviews may answer: platform or the shop's, scoped to its category."""
    return TagGroup.objects.filter(scope=product.category).filter(
        shop__isnull=True
    ) | TagGroup.objects.filter(scope=product.category, shop_id=product.shop_id)


def _suits_clean(value: Any, product: Product) -> dict[str, bool]:
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
        raise Invalid(_("Answer each question with yes or no."), code="suits_invalid")
    codes = set(product_tag_groups(product).values_list("code", flat=True))
    unknown = sorted(set(value) - codes)
    if unknown:
        raise Invalid(
            _("This product does not ask about: %(codes)s.") % {"codes": ", ".join(unknown)},
            code="suits_invalid",
            detail={"codes": unknown},
        )
    return {str(k): bool(v) for k, v in value.items()}


def _photos_clean(photos: list[UploadedFile]) -> list[Any]:
    if len(photos) > MAX_PHOTOS:
        raise Invalid(_("Add at most %(n)d photos.") % {"n": MAX_PHOTOS}, code="photos_invalid")
    cleaned = []
    for photo in photos:
        try:
            cleaned.append(picture_clean(photo))
        except Invalid as exc:
            raise Invalid(exc.message, code="photos_invalid") from None
    return cleaned


def review_create(
    *,
    user: AbstractBaseUser,
    pledge_id: Any,
    stars: Any,
    text: Any = "",
    photos: list[UploadedFile] | None = None,
    suits: Any = None,
    show_name: bool = False,
) -> Review:
    """A fan's review of their own delivered pledge (someone else's: 404). Nothing is written on error."""
    try:
        pledge_id = int(pledge_id)
    except (TypeError, ValueError):
        raise Invalid(_("Say which order you are reviewing."), code="pledge_invalid") from None
    pledge = access_pledge(user, pledge_id)
    if pledge_delivered_at(pledge.pk) is None:
        raise Conflict(_("You can review an order once it is delivered."), code="not_delivered")
    if Review.objects.filter(pledge=pledge).exists():
        raise Conflict(_("You have already reviewed this order."), code="already_reviewed")
    product = pledge.campaign.product
    stars = _stars_clean(stars)
    text = _text_clean(text, TEXT_MAX, "text_invalid")
    suits = _suits_clean(suits, product)
    images = _photos_clean(list(photos or []))
    try:
        with transaction.atomic(durable=True):
            review = Review.objects.create(
                pledge=pledge, product=product, stars=stars, text=text, suits=suits, show_name=bool(show_name)
            )
            for i, image in enumerate(images):
                photo = ReviewPhoto(review=review, position=i)
                photo.image.save(image.name, image, save=False)
                photo.save()
    except IntegrityError:
        raise Conflict(_("You have already reviewed this order."), code="already_reviewed") from None
    return review


def access_review_to_reply(user: AbstractBaseUser, review_id: int) -> Review:
    """A review of a shop the user owns or manages; assistants get Forbidden, anyone else NotFound."""
    review = Review.objects.select_related("pledge__campaign").filter(pk=review_id).first()
    role = None
    if review is not None and user.is_authenticated:
        role = (
            ShopMember.objects.filter(user=user, shop_id=review.pledge.campaign.shop_id, is_active=True)
            .values_list("role", flat=True)
            .first()
        )
    if role is None:
        raise NotFound()
    if role not in MANAGING_ROLES:
        raise Forbidden()
    return review


def review_reply(*, user: AbstractBaseUser, review_id: int, text: Any, edit: bool = False) -> Review:
    """The shop's public reply: once (POST); `edit` (PATCH) changes an existing one."""
    review = access_review_to_reply(user, review_id)
    text = _text_clean(text, REPLY_MAX, "reply_invalid")
    if not text:
        raise Invalid(_("Write a reply."), code="reply_required")
    with transaction.atomic(durable=True):
        review = Review.objects.select_for_update().get(pk=review.pk)
        if edit and not review.reply:
            raise Conflict(_("There is no reply to edit yet."), code="no_reply")
        if not edit and review.reply:
            raise Conflict(_("The shop has already replied."), code="already_replied")
        review.reply, review.replied_by, review.replied_at = text, user, timezone.now()
        review.save(update_fields=["reply", "replied_by", "replied_at"])
    return review


def review_hide(*, review_ids: Any, hidden: bool = True) -> int:
    """Moderation: hide (or show again) abusive reviews; hidden ones leave lists, averages and photos."""
    return Review.objects.filter(pk__in=list(review_ids)).update(hidden=hidden)


# --- reads ---------------------------------------------------------------------------------------------


def _avg(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def reviews_avg_by_product(product_ids: Any) -> dict[int, tuple[Decimal, int]]:
    """{product_id: (star average to 0.01, review count)} of visible reviews; products without any are absent."""
    rows = (
        Review.objects.filter(product_id__in=list(product_ids), hidden=False)
        .values("product_id")
        .annotate(avg=Avg("stars"), n=Count("pk"))
        .order_by()
    )
    return {r["product_id"]: (_avg(r["avg"]), r["n"]) for r in rows}


def reviewed_pledge_ids(pledge_ids: Any) -> set[int]:
    return set(Review.objects.filter(pledge_id__in=list(pledge_ids)).values_list("pledge_id", flat=True))


def review_list(*, product_id: int | None = None, campaign_id: int | None = None, limit: int = 100) -> dict:
    """The public reviews of a product or a campaign: items, star distribution and average."""
    qs = Review.objects.filter(hidden=False)
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if campaign_id is not None:
        qs = qs.filter(pledge__campaign_id=campaign_id)
    dist = {str(s): 0 for s in range(1, 6)}
    for row in qs.values("stars").annotate(n=Count("pk")).order_by():
        dist[str(row["stars"])] = row["n"]
    count = sum(dist.values())
    average = _avg(sum(int(s) * n for s, n in dist.items()) / count) if count else None
    reviews = list(
        qs.select_related("pledge__fan", "product")
        .prefetch_related("photos")
        .order_by("-created_at", "-pk")[:limit]
    )
    return {
        "count": count,
        "average": None if average is None else str(average),
        "distribution": dist,
        "items": _review_items(reviews),
    }


def _review_items(reviews: list[Review]) -> list[dict[str, Any]]:
    fan_ids = {r.pledge.fan_id for r in reviews}
    categories = {r.product.category for r in reviews}
    tags: dict[tuple[int, str], list[str]] = defaultdict(list)
    for ft in (
        FanTag.objects.filter(fan_id__in=fan_ids, group__scope__in=categories)
        .select_related("tag", "group")
        .order_by("group__position", "tag__position")
    ):
        tags[(ft.fan_id, ft.group.scope)].append(ft.tag.name)
    out = []
    for r in reviews:
        fan_tags = tags.get((r.pledge.fan_id, r.product.category), [])
        out.append(
            {
                "id": r.pk,
                "product": r.product_id,
                "campaign": r.pledge.campaign_id,
                "variant_name": r.pledge.variant_name,
                "stars": r.stars,
                "text": r.text,
                "suits": r.suits,
                "tags": fan_tags,
                "label": " · ".join([*fan_tags, f"{r.stars}★"]),
                "name": r.pledge.fan.display_name if r.show_name else None,
                "photos": [reverse("api-review-photo", args=[p.pk]) for p in r.photos.all()],
                "reply": r.reply or None,
                "replied_at": r.replied_at.isoformat() if r.replied_at else None,
                "created_at": r.created_at.isoformat(),
            }
        )
    return out


def review_to_dict(review: Review) -> dict[str, Any]:
    review = (
        Review.objects.select_related("pledge__fan", "product").prefetch_related("photos").get(pk=review.pk)
    )
    return _review_items([review])[0]
