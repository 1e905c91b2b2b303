"""The lifecycle thresholds a shop edits, and "recompute now" (fans.crm.lifecycle does the computing)."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Invalid
from core.tasks import task_dispatch_on_commit
from fans.crm.lifecycle import lifecycle_progress, lifecycle_settings
from fans.crm.models import LifecycleSettings
from fans.crm.services.common import audit
from shops.models import ShopMember
from shops.roles import require_managing

RECOMPUTE_TASK = "fans.crm.tasks.lifecycle_recompute_shop_task"
# field: (lowest, highest)
LIMITS = {
    "new_days": (1, 90),
    "at_risk_after_days": (1, 364),
    "lapsed_after_days": (2, 365),  # activity is read over the last 12 months
    "vip_percentile": (1, 50),
}


def _whole(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        raise Invalid(_("%(field)s must be a whole number.") % {"field": field}, code=f"{field}_invalid")
    return value


def lifecycle_settings_update(*, member: ShopMember, data: Any) -> LifecycleSettings:
    """PATCH: any of LIMITS' fields; the whole change is checked before anything is saved."""
    require_managing(member)
    if not isinstance(data, dict):
        raise Invalid(_("The body must be a JSON object."), code="invalid_body")
    unknown = sorted(set(data) - set(LIMITS) - {"shop"})
    if unknown:
        raise Invalid(
            _("Unknown fields: %(f)s") % {"f": ", ".join(unknown)},
            code="unknown_field",
            detail={"unknown": unknown},
        )
    with transaction.atomic():
        row = LifecycleSettings.objects.select_for_update().get_or_create(shop=member.shop)[0]
        values = {f: getattr(row, f) for f in LIMITS}
        for field in LIMITS:
            if field in data:
                values[field] = _whole(data[field], field)
        for field, (low, high) in LIMITS.items():
            if not low <= values[field] <= high:
                raise Invalid(
                    _("%(field)s must be between %(low)d and %(high)d.")
                    % {"field": field, "low": low, "high": high},
                    code=f"{field}_invalid",
                )
        if values["at_risk_after_days"] >= values["lapsed_after_days"]:
            raise Invalid(
                _(
                    "At risk must start before lapsed: at_risk_after_days must be less than lapsed_after_days."
                ),
                code="at_risk_not_before_lapsed",
            )
        changed = {f: v for f, v in values.items() if getattr(row, f) != v}
        for field, value in changed.items():
            setattr(row, field, value)
        if changed:
            row.save()
            audit(shop=member.shop, actor=member.user, action="lifecycle.settings", **changed)
    return row


def lifecycle_recompute_request(*, member: ShopMember) -> LifecycleSettings:
    """ "Recompute now": the worker runs it (202); the page polls lifecycle_settings_to_dict for progress."""
    require_managing(member)
    with transaction.atomic():
        row = LifecycleSettings.objects.select_for_update().get_or_create(shop=member.shop)[0]
        row.requested_at = timezone.now()
        row.save(update_fields=["requested_at", "updated_at"])
        task_dispatch_on_commit(RECOMPUTE_TASK, member.shop_id)
    return row


def lifecycle_settings_to_dict(row: LifecycleSettings) -> dict[str, Any]:
    running = row.requested_at is not None
    return {
        **{f: getattr(row, f) for f in LIMITS},
        "computed_at": row.computed_at.isoformat() if row.computed_at else None,
        "counts": (row.result or {}).get("counts", {}),
        "result": row.result or {},
        "running": running,
        "requested_at": row.requested_at.isoformat() if row.requested_at else None,
        "progress": lifecycle_progress(row.shop_id) if running else (1.0 if row.computed_at else 0.0),
    }


def lifecycle_settings_get(shop) -> LifecycleSettings:
    return lifecycle_settings(shop)
