"""Shop writes: the team (owner, managers, assistants)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Conflict, Forbidden, Invalid, NotFound
from shops.models import ShopMember, ShopRole

STAFF_ROLES = (ShopRole.MANAGER, ShopRole.ASSISTANT)


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
