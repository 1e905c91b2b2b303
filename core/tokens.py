"""Expiring API tokens (issue 17): DRF's Token, valid FANSI_TOKEN_TTL_DAYS from when it was issued.

Fixed, not sliding: a token's age is its `created` time, so checking it costs nothing per request (no write
on every call of the pledge endpoint) and a stolen token stops working on a known date whatever its use.
Clients get a new one before then by POST /api/auth/token/rotate/ (the old one stops at once), or by signing
in again: signing in answers the live token, or a new one in place of an expired one.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


class TokenExpired(AuthenticationFailed):
    """An API token past its lifetime: 401 token_expired (core.errors reads fansi_code)."""

    default_detail = _("The token has expired; sign in again for a new one.")
    fansi_code = "token_expired"


def token_ttl() -> dt.timedelta | None:
    days = settings.FANSI_TOKEN_TTL_DAYS
    return dt.timedelta(days=days) if days else None


def token_expires_at(created: dt.datetime) -> dt.datetime | None:
    ttl = token_ttl()
    return created + ttl if ttl else None


def token_is_expired(created: dt.datetime, now: dt.datetime | None = None) -> bool:
    expires = token_expires_at(created)
    return expires is not None and (now or timezone.now()) >= expires


def token_issue(user: AbstractBaseUser) -> Token:
    """The user's live token: the existing one while it lasts, else a new one (the expired one deleted)."""
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(user=user).first()
        if token is not None and not token_is_expired(token.created):
            return token
        if token is not None:
            token.delete()
        return Token.objects.create(user=user)


def token_rotate(user: AbstractBaseUser) -> Token:
    """A new token for the user; the old one is refused from now on."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)
