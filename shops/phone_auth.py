"""Phone sign-in: send a one-time code by SMS, then sign in with it, creating the account on first use.

A code lives 10 minutes and allows 5 wrong tries; asking for codes is throttled per phone and per IP by
counting the codes already sent (the database, so every process sees the same counts).
"""

import datetime as dt
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from core.errors import DomainError, Forbidden, Invalid, RateLimited, ServiceUnavailable
from shops.auth_models import PhoneAccount, PhoneCode
from shops.sms import SmsError, sms_provider

# Mainland China mobile numbers: 11 digits, 1 then 3-9.
MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
CODE_DIGITS = 6


def _limits() -> dict[str, int]:
    return settings.FANSI_PHONE_CODE


def phone_normalise(raw: object) -> str:
    """The 11-digit number from what a person typed (spaces, dashes, +86 / 0086 allowed); else phone_invalid."""
    text = re.sub(r"[\s\-()]", "", raw) if isinstance(raw, str) else ""
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if not MAINLAND_MOBILE.match(text):
        raise Invalid(
            _("Enter a mainland China mobile number: 11 digits starting with 1."), code="phone_invalid"
        )
    return text


def _hash(phone: str, code: str) -> str:
    return salted_hmac("shops.phone-code", f"{phone}:{code}", algorithm="sha256").hexdigest()


def _throttle(phone: str, ip: str | None, now: dt.datetime) -> None:
    limits = _limits()
    sent = PhoneCode.objects.filter(phone=phone)
    checks = [
        (sent.filter(created_at__gt=now - dt.timedelta(minutes=1)), limits["PER_PHONE_MINUTE"], 60),
        (sent.filter(created_at__gt=now - dt.timedelta(days=1)), limits["PER_PHONE_DAY"], 86400),
    ]
    if ip:
        checks.append(
            (
                PhoneCode.objects.filter(ip=ip, created_at__gt=now - dt.timedelta(hours=1)),
                limits["PER_IP_HOUR"],
                3600,
            )
        )
    for qs, limit, window_s in checks:
        if qs.count() >= limit:
            raise RateLimited(
                _("Too many codes asked for; please wait a little and try again."),
                code="throttled",
                detail={"retry_after_s": window_s if window_s > 60 else 60},
            )


def phone_code_send(*, phone: object, ip: str | None) -> tuple[str, str]:
    """Send a new sign-in code to the phone (older unused codes stop working). Returns (phone, code)."""
    number = phone_normalise(phone)
    now = timezone.now()
    _throttle(number, ip, now)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    with transaction.atomic():
        # Superseded: only the newest code signs in.
        PhoneCode.objects.filter(phone=number, used_at__isnull=True).update(used_at=now)
        row = PhoneCode.objects.create(
            phone=number,
            code_hash=_hash(number, code),
            ip=ip,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=_limits()["TTL_S"]),
        )
    try:
        sms_provider().send_code(phone=number, code=code)
    except SmsError:
        PhoneCode.objects.filter(pk=row.pk).update(used_at=timezone.now())
        raise ServiceUnavailable(
            _("The text message could not be sent; please try again."), code="sms_unavailable"
        ) from None
    return number, code


def _account(phone: str, display_name: str) -> tuple[AbstractBaseUser, bool]:
    """The phone's account, created on first sign-in (no password: the phone is how they sign in)."""
    existing = PhoneAccount.objects.select_related("user").filter(phone=phone).first()
    if existing is not None:
        return existing.user, False
    user_model = get_user_model()
    username = f"m{phone}"
    if user_model.objects.filter(username=username).exists():
        username = f"m{phone}-{secrets.token_hex(3)}"
    name = display_name.strip()[:30] or _("Fan %(last4)s") % {"last4": phone[-4:]}
    user = user_model(username=username, first_name=name)
    user.set_unusable_password()
    user.save()
    PhoneAccount.objects.create(user=user, phone=phone)
    return user, True


def phone_login(*, phone: object, code: object, display_name: str = "") -> tuple[AbstractBaseUser, bool]:
    """Sign in with the phone's live code. Returns (user, created). The 6th try on one code is refused."""
    number = phone_normalise(phone)
    given = code.strip() if isinstance(code, str) else str(code) if isinstance(code, int) else ""
    wrong = Invalid(
        _("The code is wrong or has expired; check it or ask for a new one."), code="code_invalid"
    )
    now = timezone.now()
    error: DomainError | None = None
    user, created = None, False
    try:
        with transaction.atomic(durable=True):
            live = (
                PhoneCode.objects.select_for_update()
                .filter(phone=number, used_at__isnull=True, expires_at__gt=now)
                .order_by("-created_at", "-pk")
                .first()
            )
            if live is None:
                error = wrong
            elif live.attempts >= _limits()["MAX_ATTEMPTS"]:
                # This code is dead, even typed right: only a new code signs in.
                error = RateLimited(_("Too many wrong codes; ask for a new code."), code="too_many_attempts")
            elif not given or not constant_time_compare(live.code_hash, _hash(number, given)):
                live.attempts += 1  # kept: the refusal is raised after the commit
                live.save(update_fields=["attempts"])
                error = wrong
            else:
                live.used_at = now
                live.save(update_fields=["used_at"])
                user, created = _account(number, display_name if isinstance(display_name, str) else "")
    except IntegrityError:
        # Two first sign-ins of one phone at once: the other made the account; sign in to it.
        user, created = PhoneAccount.objects.select_related("user").get(phone=number).user, False
    if error is not None:
        raise error
    if not user.is_active:
        raise Forbidden(_("This account is disabled."), code="account_inactive")
    return user, created
