"""The fan's birthday (month and day), shared with one shop they follow, by their own choice."""

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Invalid, NotFound
from fans.chat.models import Fan


def _parse(value: Any) -> tuple[int, int] | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid(_("The birthday must look like 05-21 (month-day)."), code="birthday_invalid")
    text = value.strip()[-5:]  # "1990-05-21" is accepted; only month and day are kept
    try:
        month, day = (int(part) for part in text.split("-"))
        dt.date(2000, month, day)  # a leap year: 02-29 is a birthday
    except (ValueError, TypeError):
        raise Invalid(_("The birthday must look like 05-21 (month-day)."), code="birthday_invalid") from None
    return month, day


def birthday_set(*, user: AbstractBaseUser, fan_id: Any, value: Any) -> Fan:
    """Only the fan themself (NotFound for anyone else's fan row)."""
    if not user.is_authenticated:
        raise NotFound()
    try:
        pk = int(fan_id)
    except (TypeError, ValueError):
        raise Invalid(_("fan must be an id."), code="fan_invalid") from None
    parsed = _parse(value)
    with transaction.atomic():
        fan = Fan.objects.select_for_update().filter(pk=pk, user=user).first()
        if fan is None:
            raise NotFound()
        fan.birthday_month, fan.birthday_day = parsed if parsed else (None, None)
        fan.save(update_fields=["birthday_month", "birthday_day"])
    return fan
