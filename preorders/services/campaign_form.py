"""Every error of a campaign form at once, each under its field and named by the field's label in the UI
language (never a raw field name).

The API answers the first error's code and message, as before, with `detail.fields` = {field: [messages]}
for every field that failed; the page (campaign.js) puts each list under its field.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.utils.translation import gettext_lazy as _

from core.errors import Invalid

T = TypeVar("T")

LABELS = {
    "kind": _("Kind"),
    "product": _("Product"),
    "title": _("Title"),
    "target_quantity": _("Target quantity"),
    "cap": _("Cap"),
    "per_fan_limit": _("Per-fan limit"),
    "deposit_percent": _("Deposit percentage"),
    "deadline": _("Deadline"),
    "tiers": _("Price tiers"),
    "min_quantity": _("Tier quantity"),
    "unit_price": _("Tier unit price"),
    "cadence": _("Cadence"),
    "cycles": _("Boxes"),
    "cutoff_hours": _("Cut-off hours"),
    "balance_deadline": _("Balance deadline"),
    "lapse_rule": _("If the balance is not paid"),
    "ship_by": _("Ship by"),
    "late_compensation_percent": _("Late-shipment compensation"),
    "variants": _("Variants"),
}
# The form field a money-terms code belongs to, for codes that do not start with the field's name.
_FIELD_OF_CODE = {"delivery_too_far": "deadline", "below_moq": "target_quantity", "tiers_invalid": "tiers"}


def label(name: str) -> str:
    return str(LABELS.get(name, name))


def field_of(code: str, default: str) -> str:
    """The form field an error code is about (its longest field-name prefix), else `default`."""
    if code in _FIELD_OF_CODE:
        return _FIELD_OF_CODE[code]
    matches = [name for name in LABELS if code.startswith(f"{name}_")]
    return max(matches, key=len) if matches else default


class FieldErrors:
    """Collects Invalid errors per field; raise_if_any() raises one Invalid that carries all of them."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, Invalid]] = []

    def add(self, field: str, error: Invalid) -> None:
        self.errors.append((field, error))

    def check(self, field: str, fn: Callable[[], T]) -> T | None:
        """fn()'s value, or None with its Invalid recorded under `field` (or the field its code names)."""
        try:
            return fn()
        except Invalid as exc:
            self.add(field_of(exc.code, field) if field == "*" else field, exc)
            return None

    def failed(self, *fields: str) -> bool:
        return any(name in fields for name, _error in self.errors)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        fields: dict[str, list[str]] = {}
        for name, error in self.errors:
            fields.setdefault(name, []).append(error.message)
        _name, first = self.errors[0]
        detail: dict[str, Any] = dict(first.detail) if isinstance(first.detail, dict) else {}
        detail["fields"] = fields
        raise Invalid(first.message, code=first.code, detail=detail)
