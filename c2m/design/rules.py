"""The shape rules of a design round: its attributes and options, and a fan's combination of them."""

import itertools
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from core.errors import Invalid

MIN_ATTRIBUTES, MAX_ATTRIBUTES = 1, 3
MIN_OPTIONS, MAX_OPTIONS = 2, 6
NAME_MAX = 40
# A vote deposit is a token of intent (e.g. ¥5), refundable: more than this is a typo, not a plan.
DEPOSIT_MAX = Decimal("500.00")
TARGET_MAX = 100_000


def _name(value: Any, *, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(_("Every %(what)s needs a name.") % {"what": what}, code="attributes_invalid")
    name = value.strip()
    if len(name) > NAME_MAX:
        raise Invalid(
            _("A name can have at most %(n)d characters.") % {"n": NAME_MAX}, code="attributes_invalid"
        )
    return name


def attributes_clean(raw: Any) -> dict[str, list[str]]:
    """{attribute: [option, ...]}: 1-3 attributes, 2-6 distinct non-empty options each (Invalid otherwise)."""
    if not isinstance(raw, dict) or not raw:
        raise Invalid(_("Give each attribute its list of options."), code="attributes_invalid")
    if len(raw) > MAX_ATTRIBUTES:
        raise Invalid(
            _("A round can have at most %(n)d attributes.") % {"n": MAX_ATTRIBUTES},
            code="too_many_attributes",
        )
    out: dict[str, list[str]] = {}
    for attribute, options in raw.items():
        name = _name(attribute, what=_("attribute"))
        if name in out:
            raise Invalid(_("Two attributes have the same name."), code="attributes_duplicate")
        if not isinstance(options, list):
            raise Invalid(_("Give each attribute its list of options."), code="attributes_invalid")
        clean = [_name(o, what=_("option")) for o in options]
        if len(clean) < MIN_OPTIONS:
            raise Invalid(
                _("“%(a)s” needs at least %(n)d options.") % {"a": name, "n": MIN_OPTIONS},
                code="too_few_options",
                detail={"attribute": name},
            )
        if len(clean) > MAX_OPTIONS:
            raise Invalid(
                _("“%(a)s” can have at most %(n)d options.") % {"a": name, "n": MAX_OPTIONS},
                code="too_many_options",
                detail={"attribute": name},
            )
        if len(set(clean)) != len(clean):
            raise Invalid(
                _("“%(a)s” lists the same option twice.") % {"a": name},
                code="duplicate_options",
                detail={"attribute": name},
            )
        out[name] = clean
    return out


def combinations(attributes: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination, in the order the owner listed attributes and options."""
    names = list(attributes)
    return [dict(zip(names, picks, strict=True)) for picks in itertools.product(*attributes.values())]


def combination_key(combination: dict[str, str]) -> str:
    """The canonical text of a combination (sorted keys), for counting and unique constraints."""
    return json.dumps(combination, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def combination_label(combination: dict[str, str], attributes: dict[str, list[str]]) -> str:
    return " / ".join(combination[a] for a in attributes if a in combination)


def combination_clean(attributes: dict[str, list[str]], raw: Any) -> dict[str, str]:
    """A fan's pick: exactly one offered option of every attribute (Invalid, coded, otherwise)."""
    if not isinstance(raw, dict) or not raw:
        raise Invalid(_("Choose an option for every attribute."), code="combination_invalid")
    unknown = [k for k in raw if k not in attributes]
    if unknown:
        raise Invalid(
            _("This round has no attribute “%(a)s”.") % {"a": str(unknown[0])[:NAME_MAX]},
            code="unknown_attribute",
            detail={"attribute": str(unknown[0])[:NAME_MAX]},
        )
    missing = [a for a in attributes if a not in raw]
    if missing:
        raise Invalid(
            _("Choose an option for “%(a)s”.") % {"a": missing[0]},
            code="missing_attribute",
            detail={"attribute": missing[0]},
        )
    out = {}
    for attribute, options in attributes.items():
        value = raw[attribute]
        if not isinstance(value, str) or value.strip() not in options:
            raise Invalid(
                _("“%(o)s” is not an option of “%(a)s”.") % {"o": str(value)[:NAME_MAX], "a": attribute},
                code="unknown_option",
                detail={"attribute": attribute},
            )
        out[attribute] = value.strip()
    return dict(sorted(out.items()))


def deposit_clean(raw: Any) -> Decimal:
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, TypeError, ValueError):
        amount = Decimal("NaN")
    if isinstance(raw, bool) or not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise Invalid(
            _("The vote deposit must be an amount with at most two decimals."), code="vote_deposit_invalid"
        )
    if amount <= 0:
        raise Invalid(_("The vote deposit must be more than zero."), code="vote_deposit_invalid")
    if amount > DEPOSIT_MAX:
        raise Invalid(
            _("The vote deposit can be at most %(m)s.") % {"m": DEPOSIT_MAX}, code="vote_deposit_too_high"
        )
    return amount


def target_clean(raw: Any) -> int:
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = int(raw)
        if isinstance(raw, float) or str(number) != str(raw).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(_("The target must be a whole number."), code="target_invalid") from None
    if not 1 <= number <= TARGET_MAX:
        raise Invalid(_("The target must be between 1 and %(m)d.") % {"m": TARGET_MAX}, code="target_invalid")
    return number
