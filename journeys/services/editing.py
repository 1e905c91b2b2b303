"""Creating and editing journeys, with every field checked before anything is written: a bad step is a coded
400 and the journey stays as it was (one transaction)."""

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_duration
from django.utils.translation import gettext as _

from core.errors import Invalid
from fans.chat.append import text_check
from fans.crm.models import Tag
from journeys.models import TRANSACTIONAL_TRIGGERS, Journey, JourneyStep, StepKind, Trigger
from journeys.services.cards import CARD_SPECS
from preorders.models import Campaign
from shops.models import Product, Shop

MAX_STEPS = 20
MAX_WAIT_SECONDS = 365 * 86400
# A wait may be given in any one of these units (the API answers with wait_seconds and wait_minutes).
WAIT_UNITS = {
    "wait_seconds": 1,
    "seconds": 1,
    "wait_minutes": 60,
    "minutes": 60,
    "wait": 60,
    "wait_hours": 3600,
    "hours": 3600,
    "wait_days": 86400,
    "days": 86400,
    "delay_seconds": 1,
    "delay_minutes": 60,
    "delay_hours": 3600,
    "delay_days": 86400,
    "duration": 1,  # seconds, or an ISO 8601 / "HH:MM:SS" duration string
    "delay": 1,
}


def _wait_seconds(raw: dict[str, Any], n: int) -> int:
    given = [(key, raw[key]) for key in WAIT_UNITS if raw.get(key) is not None]
    if not given:
        raise Invalid(
            _("Step %(n)d: a wait needs a duration greater than zero.") % {"n": n}, code="wait_not_positive"
        )
    key, value = given[0]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(_("Step %(n)d: the wait must be a number.") % {"n": n}, code="wait_invalid")
    try:
        number = float(value) * WAIT_UNITS[key]
    except ValueError:
        # "P3D", "PT0S", "1 02:00:00": a duration string, whatever the key's unit.
        duration = parse_duration(value) if isinstance(value, str) else None
        if duration is None:
            raise Invalid(
                _("Step %(n)d: the wait must be a number.") % {"n": n}, code="wait_invalid"
            ) from None
        number = duration.total_seconds()
    if number != number:  # NaN
        raise Invalid(_("Step %(n)d: the wait must be a number.") % {"n": n}, code="wait_invalid")
    seconds = int(round(number)) if abs(number) < 1e12 else int(number > 0) * (MAX_WAIT_SECONDS + 1)
    if not number > 0 or seconds <= 0:
        raise Invalid(_("Step %(n)d: a wait must be longer than zero.") % {"n": n}, code="wait_not_positive")
    if seconds > MAX_WAIT_SECONDS:
        raise Invalid(_("Step %(n)d: a wait can be at most a year.") % {"n": n}, code="wait_too_long")
    return seconds


def _card(shop: Shop, raw: Any, n: int) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("card") not in CARD_SPECS:
        raise Invalid(
            _("Step %(n)d: a card is recommended, campaign or product.") % {"n": n}, code="card_invalid"
        )
    spec: dict[str, Any] = {"card": raw["card"]}
    for key, model in (("campaign", Campaign), ("product", Product)):
        if raw.get(key) in (None, ""):
            continue
        try:
            pk = int(raw[key])
        except (TypeError, ValueError):
            raise Invalid(
                _("Step %(n)d: %(key)s must be an id.") % {"n": n, "key": key}, code="card_invalid"
            ) from None
        if not model.objects.filter(pk=pk, shop=shop).exists():
            raise Invalid(
                _("Step %(n)d: that %(key)s is not in this shop.") % {"n": n, "key": key}, code="card_invalid"
            )
        spec[key] = pk
    return spec


def _tag(shop: Shop, raw: Any, n: int) -> Tag:
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        raise Invalid(_("Step %(n)d: choose a tag.") % {"n": n}, code="tag_unknown") from None
    tag = Tag.objects.filter(Q(group__shop=shop) | Q(group__shop__isnull=True), pk=pk).first()
    if tag is None:
        raise Invalid(_("Step %(n)d: that tag does not exist in this shop.") % {"n": n}, code="tag_unknown")
    return tag


def steps_clean(shop: Shop, raw: Any) -> list[dict[str, Any]]:
    """The steps as field dicts for JourneyStep, in order; Invalid (coded) on the first bad one."""
    if not isinstance(raw, list) or not raw:
        raise Invalid(_("A journey needs at least one step."), code="steps_invalid")
    if len(raw) > MAX_STEPS:
        raise Invalid(_("A journey can have at most %(n)d steps.") % {"n": MAX_STEPS}, code="steps_invalid")
    cleaned = []
    for n, step in enumerate(raw, start=1):
        if not isinstance(step, dict):
            raise Invalid(_("Step %(n)d must be an object.") % {"n": n}, code="steps_invalid")
        kind = step.get("kind", step.get("type"))
        if kind not in StepKind.values:
            raise Invalid(_("Step %(n)d: unknown kind of step.") % {"n": n}, code="step_kind_unknown")
        row: dict[str, Any] = {"kind": kind, "id": step.get("id")}
        if kind == StepKind.WAIT:
            row["wait_seconds"] = _wait_seconds(step, n)
        elif kind == StepKind.SEND_MESSAGE:
            text = step.get("text")
            if not isinstance(text, str) or not text.strip():
                raise Invalid(_("Step %(n)d: the message is empty.") % {"n": n}, code="text_required")
            text_check(text.strip())
            row["text"] = text.strip()
        elif kind == StepKind.SEND_CARD:
            row["card"] = _card(shop, step.get("card"), n)
        else:
            row["tag"] = _tag(shop, step.get("tag"), n)
        cleaned.append(row)
    if all(row["kind"] == StepKind.WAIT for row in cleaned):
        raise Invalid(_("A journey needs a step that does something, not only waits."), code="steps_invalid")
    return cleaned


def _name(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw.strip()) > 100:
        raise Invalid(_("The name must be text of at most 100 characters."), code="name_invalid")
    return raw.strip()


def _trigger(raw: Any) -> str:
    if raw not in Trigger.values:
        raise Invalid(_("Unknown trigger."), code="trigger_unknown")
    return raw


def _steps_write(journey: Journey, cleaned: list[dict[str, Any]]) -> None:
    """Replace the journey's steps: a step sent back with its id keeps it (and its counts); the rest are new,
    and steps left out are deleted. Fans in the middle keep their place by position."""
    existing = {s.pk: s for s in JourneyStep.objects.filter(journey=journey)}
    keep: set[int] = set()
    for position, row in enumerate(cleaned):
        fields = {
            "position": position,
            "kind": row["kind"],
            "wait_seconds": row.get("wait_seconds"),
            "text": row.get("text", ""),
            "card": row.get("card", {}),
            "tag": row.get("tag"),
        }
        step = existing.get(row["id"]) if isinstance(row["id"], int) else None
        if step is not None and step.kind == row["kind"] and step.pk not in keep:
            for key, value in fields.items():
                setattr(step, key, value)
            step.save()
            keep.add(step.pk)
        else:
            JourneyStep.objects.create(journey=journey, **fields)
    JourneyStep.objects.filter(pk__in=[pk for pk in existing if pk not in keep]).delete()


def journey_create(*, shop: Shop, data: dict[str, Any]) -> Journey:
    name = _name(data.get("name"))
    if not name:
        raise Invalid(_("Give the journey a name."), code="name_invalid")
    trigger = _trigger(data.get("trigger"))
    cleaned = steps_clean(shop, data.get("steps"))
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        raise Invalid(_("enabled must be true or false."), code="enabled_invalid")
    with transaction.atomic():
        journey = Journey.objects.create(
            shop=shop,
            name=name,
            trigger=trigger,
            transactional=trigger in TRANSACTIONAL_TRIGGERS,
            enabled=enabled,
            enabled_at=timezone.now() if enabled else None,
        )
        _steps_write(journey, cleaned)
    return journey


def journey_update(*, journey: Journey, data: dict[str, Any]) -> Journey:
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = _name(data["name"])
        if not changes["name"] and not journey.template:
            raise Invalid(_("Give the journey a name."), code="name_invalid")
    if "trigger" in data:
        changes["trigger"] = _trigger(data["trigger"])
        changes["transactional"] = changes["trigger"] in TRANSACTIONAL_TRIGGERS
    cleaned = steps_clean(journey.shop, data["steps"]) if "steps" in data else None
    if not changes and cleaned is None:
        raise Invalid(_("Nothing to change: give name, trigger or steps."), code="nothing_to_change")
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        for key, value in changes.items():
            setattr(journey, key, value)
        journey.save()
        if cleaned is not None:
            _steps_write(journey, cleaned)
    return journey


def journey_enable(*, journey: Journey, enabled: bool) -> Journey:
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey.pk)
        if journey.enabled != enabled:
            journey.enabled = enabled
            journey.enabled_at = timezone.now() if enabled else journey.enabled_at
            journey.save(update_fields=["enabled", "enabled_at", "updated_at"])
    return journey
