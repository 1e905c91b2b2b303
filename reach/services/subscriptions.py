"""Push subscriptions: a device says yes (or no) to notifications; a person's lock-screen preview choice."""

import base64
import binascii

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Invalid, NotFound
from reach.endpoints import endpoint_check
from reach.models import PushPreference, PushSubscription


def _b64url_bytes(value: object, *, name: str, length: int) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise Invalid(_("keys.%(name)s is required.") % {"name": name}, code="push_keys_invalid")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise Invalid(
            _("keys.%(name)s is not base64url.") % {"name": name}, code="push_keys_invalid"
        ) from None
    if len(raw) != length or (name == "p256dh" and raw[0] != 4):
        raise Invalid(_("keys.%(name)s has the wrong length.") % {"name": name}, code="push_keys_invalid")
    return value.rstrip("=")


def push_subscription_create(
    *, user: AbstractBaseUser, endpoint: object, p256dh: object, auth: object, user_agent: str = ""
) -> tuple[PushSubscription, bool]:
    """Store this device's subscription for the user (a browser re-subscribing, or signing in as someone
    else, moves its one endpoint to them). Returns (subscription, created)."""
    endpoint = endpoint_check(endpoint)
    p256dh = _b64url_bytes(p256dh, name="p256dh", length=65)
    auth = _b64url_bytes(auth, name="auth", length=16)
    with transaction.atomic():
        subscription, created = PushSubscription.objects.select_for_update().get_or_create(
            endpoint=endpoint,
            defaults={"user": user, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300]},
        )
        if not created:
            subscription.user, subscription.p256dh, subscription.auth = user, p256dh, auth
            subscription.user_agent = user_agent[:300]
            subscription.created_at = timezone.now()
            subscription.save(update_fields=["user", "p256dh", "auth", "user_agent", "created_at"])
    return subscription, created


def push_subscription_delete(*, user: AbstractBaseUser, subscription_id: int) -> None:
    """Remove one of the user's own devices; anyone else's is NotFound (ids leak nothing)."""
    deleted, _detail = PushSubscription.objects.filter(pk=subscription_id, user_id=user.pk).delete()
    if not deleted:
        raise NotFound()


def push_preference_set(*, user: AbstractBaseUser, previews: bool) -> PushPreference:
    preference, _created = PushPreference.objects.update_or_create(user=user, defaults={"previews": previews})
    return preference
