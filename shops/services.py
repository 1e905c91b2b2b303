"""Shop writes: a new shop and its owner, the team (owner, managers, assistants), milestones."""

import re
import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import Conflict, Forbidden, Invalid, NotFound
from shops.images import picture_clean
from shops.models import Shop, ShopMember, ShopMilestone, ShopRole

STAFF_ROLES = (ShopRole.MANAGER, ShopRole.ASSISTANT)
# The shop's address (/s/<slug>/): a Django slug, lowercase so two shops never differ by case alone.
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,58})[a-z0-9]$")
NAME_MAX = 100
AVATAR_SIZE = 256


def shop_slug_check(slug: str) -> str:
    """The slug if it is URL-safe and free: Invalid `slug_invalid`, Conflict `slug_taken` otherwise."""
    slug = (slug or "").strip()
    if not SLUG_RE.match(slug):
        raise Invalid(
            _("The address may use lowercase letters, digits and hyphens, 3 to 60 characters."),
            code="slug_invalid",
            detail={"field": "slug"},
        )
    if Shop.objects.filter(slug=slug).exists():
        raise Conflict(_("This address is taken; try another."), code="slug_taken", detail={"field": "slug"})
    return slug


def timezone_check(name: str) -> str:
    if name not in zoneinfo.available_timezones():
        raise Invalid(
            _("Choose a time zone from the list, e.g. Asia/Shanghai."),
            code="timezone_invalid",
            detail={"field": "timezone"},
        )
    return name


def _has_shop(user: AbstractBaseUser) -> bool:
    return ShopMember.objects.filter(user=user, is_active=True).exists()


def shop_create(
    *,
    user: AbstractBaseUser,
    name: str,
    slug: str,
    timezone: str = "Asia/Shanghai",
    description: str = "",
    avatar: UploadedFile | None = None,
) -> Shop:
    """A new shop whose owner is `user`, with their owner staff row in the same transaction."""
    name = (name or "").strip()
    if not name:
        raise Invalid(_("Give the shop a name."), code="name_required", detail={"field": "name"})
    if len(name) > NAME_MAX:
        raise Invalid(
            _("The name is at most 100 characters."), code="name_too_long", detail={"field": "name"}
        )
    if _has_shop(user):
        raise Conflict(_("You already run a shop."), code="already_has_shop")
    slug = shop_slug_check(slug)
    timezone = timezone_check(timezone)
    picture = picture_clean(avatar, square=AVATAR_SIZE) if avatar is not None else None
    try:
        with transaction.atomic():
            # The user's row, locked, serialises two submits of the form: the second finds the first's shop.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            if _has_shop(user):
                raise Conflict(_("You already run a shop."), code="already_has_shop")
            shop = Shop(name=name, slug=slug, timezone=timezone, description=description.strip(), owner=user)
            if picture is not None:
                shop.avatar.save(picture.name, picture, save=False)
            shop.save()
            shop_owner_ensure(shop=shop)
    except IntegrityError:
        # Another request took the slug between the check and the insert.
        raise Conflict(
            _("This address is taken; try another."), code="slug_taken", detail={"field": "slug"}
        ) from None
    return shop


def shop_owner_ensure(*, shop: Shop) -> ShopMember:
    """The owner's staff row, made active with role owner (a shop saved in the admin gets it here too)."""
    member, created = ShopMember.objects.get_or_create(
        shop=shop, user_id=shop.owner_id, defaults={"role": ShopRole.OWNER}
    )
    if not created and (member.role != ShopRole.OWNER or not member.is_active):
        member.role, member.is_active = ShopRole.OWNER, True
        member.save(update_fields=["role", "is_active"])
    return member


def shop_milestone_record(*, shop_id: int, key: str) -> bool:
    """Record a first time (idempotent); True when this call was the first."""
    _milestone, created = ShopMilestone.objects.get_or_create(shop_id=shop_id, key=key)
    return created


def _require_owner(member: ShopMember) -> None:
    if member.role != ShopRole.OWNER:
        raise Forbidden(_("Only the shop owner manages staff."))


def staff_add(*, member: ShopMember, username: str, role: str) -> ShopMember:
    _require_owner(member)
    if role not in STAFF_ROLES:
        raise Invalid(_("The role must be manager or assistant."))
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(_("No user with that username."))
    with transaction.atomic():
        existing = ShopMember.objects.select_for_update().filter(shop=member.shop, user=user).first()
        if existing is not None and existing.is_active:
            raise Conflict(_("This person is on the team already."), code="already_member")
        if existing is not None:
            existing.role, existing.is_active = role, True
            existing.save(update_fields=["role", "is_active"])
            return existing
        return ShopMember.objects.create(shop=member.shop, user=user, role=role)


def staff_update(*, member: ShopMember, target: ShopMember, role: str) -> ShopMember:
    _require_owner(member)
    if target.role == ShopRole.OWNER:
        raise Forbidden(_("The owner's role cannot change."))
    if role not in STAFF_ROLES:
        raise Invalid(_("The role must be manager or assistant."))
    ShopMember.objects.filter(pk=target.pk).update(role=role)
    target.role = role
    return target


def staff_remove(*, member: ShopMember, target: ShopMember) -> None:
    """Deactivate a staff member; their fans stay assigned until handed over."""
    _require_owner(member)
    if target.role == ShopRole.OWNER:
        raise Forbidden(_("The owner cannot be removed."))
    ShopMember.objects.filter(pk=target.pk).update(is_active=False)
