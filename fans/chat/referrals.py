"""Referrals, one level: a fan's share links carry their code (?ref=), and a person who follows the shop
through one is recorded as brought in by that fan. No commissions, and nothing on a referral's referrals."""

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from fans.chat.models import Fan
from fans.chat.services import fan_follow
from shops.models import Shop

# Uppercase and digits without look-alikes (0/O, 1/I), so a code read off a poster can be typed.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def fan_referral_code(fan: Fan) -> str:
    """The fan's code, given on first ask (rows made in bulk have none until then)."""
    if fan.referral_code:
        return fan.referral_code
    for _attempt in range(5):
        try:
            with transaction.atomic():
                Fan.objects.filter(pk=fan.pk, referral_code__isnull=True).update(referral_code=_new_code())
            break
        except IntegrityError:  # a clash with another fan's code: draw again
            continue
    fan.referral_code = Fan.objects.values_list("referral_code", flat=True).get(pk=fan.pk)
    return fan.referral_code


def referral_code_for(user: AbstractBaseUser, shop_id: int) -> str | None:
    """The code for the user's share links of this shop; None unless they follow it."""
    if not user.is_authenticated:
        return None
    fan = Fan.objects.filter(shop_id=shop_id, user=user).only("pk", "referral_code").first()
    return fan_referral_code(fan) if fan else None


def fan_follow_referred(
    *, user: AbstractBaseUser, shop: Shop, ref: str = "", via: str = "campaign"
) -> tuple[Fan, bool]:
    """Follow the shop (idempotent). A first follow through another fan's code records who invited them;
    someone who already followed keeps their history, and nobody invites themselves. Returns (fan, created)."""
    code = ref.strip().upper()[:16] if isinstance(ref, str) else ""
    with transaction.atomic():
        created = not Fan.objects.filter(shop=shop, user=user).exists()
        fan = fan_follow(user=user, shop=shop, via=via)
        if created and code:
            referrer = Fan.objects.filter(shop=shop, referral_code=code).exclude(user=user).first()
            if referrer is not None:
                Fan.objects.filter(pk=fan.pk, referred_by__isnull=True).update(referred_by=referrer)
                fan.referred_by = referrer
    return fan, created


def invited_counts(fans: QuerySet[Fan]) -> QuerySet[Fan]:
    """The fans with `invited_count`: how many people each brought in."""
    return fans.annotate(invited_count=Count("referred_fans", distinct=True))
