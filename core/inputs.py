"""Strict reading of untrusted input, defined once: JSON with a depth limit and no lone surrogates, booleans
that mean what they say ("false" is False), integer ids that are integers (never `true`), and bounds that
match the database columns. Every refusal is a coded 400 (core.errors)."""

import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.parsers import JSONParser

from core.errors import Invalid

# The deepest JSON a client may send. No request of the API nests past a handful of levels.
JSON_MAX_DEPTH = 32
# PostgreSQL's integer and bigint columns (PositiveIntegerField, IntegerField, BigAutoField ids).
INT_MAX = 2_147_483_647
BIGINT_MAX = 9_223_372_036_854_775_807

TRUE_WORDS = frozenset({"true", "1", "on"})
FALSE_WORDS = frozenset({"false", "0", "off", ""})


class TooDeep(Invalid):
    code = "too_deep"
    default_message = _("The JSON is nested too deeply.")


class InvalidText(Invalid):
    code = "invalid_text"
    default_message = _("The text holds characters that are not valid Unicode.")


class OutOfRange(Invalid):
    code = "out_of_range"
    default_message = _("A number is out of range.")


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_check(value: Any, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Walk parsed JSON without recursion: refuse nesting deeper than max_depth and strings (keys too) that
    cannot be encoded (lone surrogates such as "\\ud800"), which would fail later in the database or the
    response."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                raise InvalidText()
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise TooDeep()
        children: Iterable[Any] = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
        stack.extend((child, depth + 1) for child in children)
    return value


def json_loads(text: str | bytes, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """json.loads for untrusted text: ValueError stays ValueError (malformed), deep nesting is TooDeep."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep() from None
    return json_check(value, max_depth=max_depth)


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with the depth and text checks of json_check (REST_FRAMEWORK's parsers)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise TooDeep() from None
        return json_check(value)


def strict_bool(value: Any, name: str) -> bool:
    """A boolean from JSON (true/false) or a form field ("false", "0", "off", "" are False); else 400."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise Invalid(_("%(name)s must be true or false.") % {"name": name}, code=f"invalid_{name}")


def strict_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int = INT_MAX, code: str | None = None
) -> int:
    """A whole number from JSON or a form field; booleans, floats with a fraction and out-of-range are 400."""
    code = code or f"invalid_{name}"
    if isinstance(value, bool):
        raise Invalid(_("%(name)s must be a whole number.") % {"name": name}, code=code)
    if isinstance(value, float):
        if not value.is_integer():
            raise Invalid(_("%(name)s must be a whole number.") % {"name": name}, code=code)
        value = int(value)
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid(_("%(name)s must be a whole number.") % {"name": name}, code=code) from None
    if number > maximum or (minimum is not None and number < minimum):
        raise Invalid(_("%(name)s is out of range.") % {"name": name}, code=code)
    return number


def strict_id(value: Any) -> int | None:
    """An object id (a positive bigint), or None for anything else: booleans are not ids."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number <= BIGINT_MAX else None


def strict_decimal(value: Any, name: str, *, max_digits: int = 12, decimal_places: int = 2) -> Decimal:
    """A money-like amount that fits a DecimalField(max_digits, decimal_places) column; else 400."""
    if isinstance(value, bool):
        raise Invalid(_("%(name)s must be a number.") % {"name": name}, code=f"invalid_{name}")
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
        number = number.quantize(Decimal(1).scaleb(-decimal_places))
    except (InvalidOperation, ValueError, TypeError):
        raise Invalid(_("%(name)s must be a number.") % {"name": name}, code=f"invalid_{name}") from None
    if abs(number) >= Decimal(10) ** (max_digits - decimal_places):
        raise Invalid(_("%(name)s is out of range.") % {"name": name}, code=f"invalid_{name}")
    return number


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that refuses booleans and stays within the column (int4 unless told)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", INT_MAX)
        kwargs.setdefault("min_value", -INT_MAX - 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A PrimaryKeyRelatedField that refuses `true` (which the ORM reads as pk 1) and non-integers."""

    def to_internal_value(self, data: Any) -> Any:
        if strict_id(data) is None:
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)
