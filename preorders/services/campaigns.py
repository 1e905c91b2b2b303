"""Creating and launching campaigns, and the campaign card the chat shows."""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from core.errors import Conflict, DomainError, Invalid, Unprocessable
from core.inputs import strict_id
from preorders.access import access_campaign_to_manage, access_product_to_campaign
from preorders.models import MONEY, Cadence, Campaign, CampaignKind, CampaignStatus, LapseRule, Tier
from preorders.selectors import campaign_current_unit_price
from preorders.services.campaign_form import FieldErrors, label
from preorders.services.events import progress_announce
from preorders.services.subscriptions import cycle_ensure_next
from shops.models import Shop

# Every date a campaign leads to stays within a year of now: the shop's clock can show all of them, and
# a deadline years away is a typo, not a plan.
MAX_AHEAD = dt.timedelta(days=365)
# The range of the counters' PositiveIntegerField, and of ids (BigAutoField), on every database.
COUNT_MAX = 2_147_483_647
ID_MAX = 9_223_372_036_854_775_807
# The first amount the MONEY columns (12 digits, 2 decimals) cannot hold.
MONEY_LIMIT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])


def _int(
    value: Any, name: str, *, minimum: int, maximum: int = COUNT_MAX, optional: bool = False
) -> int | None:
    if optional and value in (None, ""):
        return None
    if isinstance(value, bool):
        raise Invalid(_("%(name)s must be a whole number.") % {"name": label(name)}, code=f"{name}_invalid")
    try:
        number = int(value)
        if str(number) != str(value).strip() and not isinstance(value, int):
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(
            _("%(name)s must be a whole number.") % {"name": label(name)}, code=f"{name}_invalid"
        ) from None
    if number < minimum:
        raise Invalid(
            _("%(name)s must be at least %(m)d.") % {"name": label(name), "m": minimum},
            code=f"{name}_invalid",
        )
    if number > maximum:
        raise Invalid(
            _("%(name)s must be at most %(m)d.") % {"name": label(name), "m": maximum},
            code=f"{name}_invalid",
        )
    return number


def _money(value: Any, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise Invalid(
            _("%(name)s must be an amount.") % {"name": label(name)}, code=f"{name}_invalid"
        ) from None
    # Past the column (MONEY: 12 digits, 2 of them decimals), e.g. 1e30, quantize itself fails: refused alike.
    if not amount.is_finite() or amount < 0 or amount >= MONEY_LIMIT:
        raise Invalid(
            _("%(name)s must be an amount below %(max)s.") % {"name": label(name), "max": MONEY_LIMIT},
            code=f"{name}_invalid",
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise Invalid(
            _("%(name)s must be an amount with at most two decimals.") % {"name": label(name)},
            code=f"{name}_invalid",
        )
    return amount


def deadline_clean(value: Any) -> dt.datetime:
    """An aware deadline after now and at most MAX_AHEAD away (Invalid otherwise); the admin checks with it too."""
    try:
        parsed = value if isinstance(value, dt.datetime) else parse_datetime(str(value or ""))
    except ValueError:  # well-formed but no such date, e.g. 2025-02-30
        parsed = None
    if parsed is None:
        raise Invalid(_("Enter a date and time."), code="deadline_invalid")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed <= timezone.now():
        raise Invalid(_("The deadline is in the past."), code="deadline_past")
    _deadline_range_check(parsed, error=Invalid)
    return parsed


def _deadline_range_check(deadline: dt.datetime, *, error: type[DomainError]) -> None:
    """The deadline (a subscription's first delivery) is at most MAX_AHEAD away."""
    latest = timezone.now() + MAX_AHEAD
    if deadline > latest:
        raise error(
            _("The deadline is more than a year away."),
            code="deadline_too_far",
            detail={"latest": latest.isoformat()},
        )


def _delivery_range_check(*, kind: str, lead_time_days: int, error: type[DomainError]) -> None:
    """Group orders reach the factory at the deadline and arrive a lead time later (delivery_window)."""
    if kind == CampaignKind.GROUP and lead_time_days > MAX_AHEAD.days:
        raise error(
            _("The factory's lead time puts delivery more than a year after the deadline."),
            code="delivery_too_far",
            detail={"lead_time_days": lead_time_days, "max_days": MAX_AHEAD.days},
        )


def tiers_clean(raw: Any, *, base_price: Decimal) -> list[dict[str, Any]]:
    """Tiers must rise in quantity and never raise the price."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise Invalid(_("The price tiers must be a list."), code="tiers_invalid")
    tiers = []
    for item in raw:
        if not isinstance(item, dict):
            raise Invalid(_("Each tier needs a quantity and a unit price."), code="tiers_invalid")
        tiers.append(
            {
                "min_quantity": _int(item.get("min_quantity"), "min_quantity", minimum=1),
                "unit_price": _money(item.get("unit_price"), "unit_price"),
            }
        )
    previous_q, previous_price = 0, base_price
    for tier in tiers:
        if tier["min_quantity"] <= previous_q or tier["unit_price"] > previous_price:
            raise Invalid(
                _("Each tier must start at a larger quantity than the one before, at a price no higher."),
                code="tiers_not_increasing",
            )
        previous_q, previous_price = tier["min_quantity"], tier["unit_price"]
    return tiers


def _when(value: Any, name: str) -> dt.datetime:
    try:
        parsed = value if isinstance(value, dt.datetime) else parse_datetime(str(value or ""))
    except ValueError:
        parsed = None
    if parsed is None:
        raise Invalid(_("Enter a date and time."), code=f"{name}_invalid")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed > timezone.now() + 2 * MAX_AHEAD:
        raise Invalid(_("%(name)s is too far away.") % {"name": label(name)}, code=f"{name}_too_far")
    return parsed


# Without a stated ship-by date, a group campaign promises delivery a few days after the factory's lead time.
SHIP_BY_SLACK = dt.timedelta(days=3)


def money_terms_clean(
    *,
    kind: str,
    deadline: dt.datetime,
    deposit_percent: Decimal,
    lead_time_days: int,
    balance_deadline: Any,
    lapse_rule: Any,
    ship_by: Any,
    late_compensation_percent: Any,
) -> dict[str, Any]:
    """The balance deadline, lapse rule, ship-by date and late compensation of a campaign (Invalid otherwise).

    A group campaign with a deposit below 100% must say when the balance is due (after the deadline), and
    ship_by comes after it.
    """
    rule = lapse_rule if lapse_rule not in (None, "") else LapseRule.FORFEIT
    if rule not in LapseRule.values:
        raise Invalid(_("Choose whether the deposit is forfeited or refunded."), code="lapse_rule_invalid")
    if late_compensation_percent in (None, ""):
        compensation = Decimal("5")
    else:
        try:
            compensation = Decimal(str(late_compensation_percent))
        except (InvalidOperation, TypeError):
            compensation = Decimal("NaN")
        if (
            isinstance(late_compensation_percent, bool)
            or not compensation.is_finite()
            or not (0 <= compensation <= 100)
            or compensation != compensation.quantize(Decimal("0.01"))
        ):
            raise Invalid(
                _("Enter a percentage between 0 and 100."),
                code="late_compensation_percent_invalid",
            )
    balance_at = None
    if kind == CampaignKind.GROUP:
        if balance_deadline not in (None, ""):
            balance_at = _when(balance_deadline, "balance_deadline")
            if balance_at <= deadline:
                raise Invalid(
                    _("The balance deadline must come after the deadline."),
                    code="balance_deadline_before_deadline",
                )
        elif deposit_percent < 100:
            raise Invalid(
                _("A deposit below 100% needs a balance deadline."),
                code="balance_deadline_required",
            )
    elif balance_deadline not in (None, ""):
        raise Invalid(_("Only group campaigns have a balance deadline."), code="balance_deadline_invalid")
    after = balance_at or deadline
    if ship_by not in (None, ""):
        ship_at = _when(ship_by, "ship_by")
        if ship_at <= after:
            raise Invalid(
                _("The ship-by date must come after the balance deadline."),
                code="ship_by_before_balance_deadline",
            )
    elif kind == CampaignKind.GROUP:
        ship_at = after + dt.timedelta(days=lead_time_days) + SHIP_BY_SLACK
    else:
        ship_at = None
    return {
        "balance_deadline": balance_at,
        "lapse_rule": rule,
        "ship_by": ship_at,
        "late_compensation_percent": compensation,
    }


def _percent(value: Any) -> Decimal:
    try:
        percent = Decimal(str(value))
    except (InvalidOperation, TypeError):
        percent = Decimal("NaN")
    if (
        isinstance(value, bool)
        or not percent.is_finite()
        or not (0 <= percent <= 100)
        or percent != percent.quantize(Decimal("0.01"))
    ):
        raise Invalid(_("Enter a percentage between 0 and 100."), code="deposit_percent_invalid")
    return percent


def variants_clean(raw: Any, *, product: Any) -> list[int]:
    """The product variants a campaign offers (ids); empty or missing means all of them."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        raise Invalid(_("Choose the variants from the list."), code="variants_invalid")
    ids = sorted(set(raw))
    known = set(product.variants.filter(pk__in=ids).values_list("pk", flat=True))
    if known != set(ids):
        raise Invalid(_("Some chosen variants are not this product's."), code="variants_invalid")
    return ids


def _lead_time_days(source: Any) -> int:
    """The factory lead time of a product or campaign (0 without a factory product)."""
    return source.factory_product.lead_time_days if source.factory_product_id else 0


def campaign_create(
    *,
    user: AbstractBaseUser,
    kind: str,
    product_id: Any,
    title: str,
    target_quantity: Any,
    deadline: Any,
    deposit_percent: Any,
    tiers: Any = None,
    cap: Any = None,
    per_fan_limit: Any = None,
    cadence: str = "",
    cycles: Any = None,
    cutoff_hours: Any = 0,
    balance_deadline: Any = None,
    lapse_rule: Any = None,
    ship_by: Any = None,
    late_compensation_percent: Any = None,
    variants: Any = None,
) -> Campaign:
    """A draft campaign from one of the shop's products. Nothing is stored if any rule fails, and every
    field's error is reported at once (campaign_form.FieldErrors)."""
    errors = FieldErrors()
    if kind not in CampaignKind.values:
        errors.add("kind", Invalid(_("Choose a group pre-order or a subscription."), code="kind_invalid"))
    product = access_product_to_campaign(user, _int(product_id, "product", minimum=1, maximum=ID_MAX))
    title = (title or "").strip()[:200]
    if not title:
        errors.add("title", Invalid(_("A campaign needs a title."), code="title_invalid"))
    target = errors.check("target_quantity", lambda: _int(target_quantity, "target_quantity", minimum=1))
    cap_n = errors.check("cap", lambda: _int(cap, "cap", minimum=1, optional=True))
    limit = errors.check(
        "per_fan_limit", lambda: _int(per_fan_limit, "per_fan_limit", minimum=1, optional=True)
    )
    percent = errors.check("deposit_percent", lambda: _percent(deposit_percent))
    when = errors.check("deadline", lambda: deadline_clean(deadline))
    errors.check(
        "deadline",
        lambda: _delivery_range_check(kind=kind, lead_time_days=_lead_time_days(product), error=Invalid),
    )
    moq = product.factory_product.moq if product.factory_product else 1
    if target is not None and target < moq:
        errors.add(
            "target_quantity",
            Invalid(
                _("The target must be at least the factory's MOQ (%(moq)d).") % {"moq": moq},
                code="below_moq",
                detail={"moq": moq},
            ),
        )
    if cap_n is not None and target is not None and cap_n < target:
        errors.add("cap", Invalid(_("The cap cannot be below the target."), code="cap_below_target"))
    clean_tiers = errors.check("tiers", lambda: tiers_clean(tiers, base_price=product.price)) or []
    variant_ids = errors.check("variants", lambda: variants_clean(variants, product=product)) or []
    cadence = cadence or ""
    cycle_count = None
    hours = 0
    if kind == CampaignKind.SUBSCRIPTION:
        if cadence not in Cadence.values:
            errors.add(
                "cadence",
                Invalid(_("Choose every week, every two weeks or every month."), code="cadence_invalid"),
            )
        cycle_count = errors.check("cycles", lambda: _int(cycles, "cycles", minimum=1, optional=True))
        hours = errors.check(
            "cutoff_hours",
            lambda: _int(
                cutoff_hours if cutoff_hours is not None else 0,
                "cutoff_hours",
                minimum=0,
                maximum=MAX_AHEAD.days * 24,
            ),
        )
        if when is not None and hours is not None and when - dt.timedelta(hours=hours) <= timezone.now():
            errors.add("cutoff_hours", Invalid(_("The first cut-off is in the past."), code="deadline_past"))
    elif cadence:
        errors.add("cadence", Invalid(_("Only subscriptions have a cadence."), code="cadence_invalid"))
    money_terms = None
    # The money terms follow from the deadline and the lead time: checked once those are sound.
    if when is not None and percent is not None and not errors.failed("deadline"):
        money_terms = errors.check(
            "*",
            lambda: money_terms_clean(
                kind=kind,
                deadline=when,
                deposit_percent=percent,
                lead_time_days=_lead_time_days(product),
                balance_deadline=balance_deadline,
                lapse_rule=lapse_rule,
                ship_by=ship_by,
                late_compensation_percent=late_compensation_percent,
            ),
        )
    errors.raise_if_any()
    assert money_terms is not None and when is not None and target is not None  # noqa: S101 - shown above

    with transaction.atomic():
        campaign = Campaign.objects.create(
            shop=product.shop,
            product=product,
            factory_product=product.factory_product,
            kind=kind,
            title=title,
            target_quantity=target,
            cap=cap_n,
            deadline=when,
            deposit_percent=percent,
            per_fan_limit=limit,
            base_unit_price=product.price,
            currency=product.currency,
            cadence=cadence,
            cycles=cycle_count,
            cutoff_hours=hours,
            created_by=user,
            **money_terms,
        )
        Tier.objects.bulk_create(Tier(campaign=campaign, **t) for t in clean_tiers)
        if variant_ids:
            campaign.variants.set(variant_ids)
    return campaign


def campaign_launch(*, user: AbstractBaseUser, campaign_id: int) -> Campaign:
    """Draft to live. From here on goal, tiers and deadline are locked (no service changes them)."""
    with transaction.atomic(durable=True):
        campaign = access_campaign_to_manage(user, campaign_id, lock=True)
        if campaign.status != CampaignStatus.DRAFT:
            raise Conflict(_("Only a draft campaign can be launched."), code="not_draft")
        first_deadline = campaign.deadline - dt.timedelta(hours=campaign.cutoff_hours)
        if first_deadline <= timezone.now():
            raise Conflict(_("The deadline has passed; create a new campaign."), code="deadline_past")
        # Checked again before going live: a draft may predate the check, and the factory's lead time
        # may have changed since the draft was made.
        _deadline_range_check(campaign.deadline, error=Unprocessable)
        _delivery_range_check(
            kind=campaign.kind, lead_time_days=_lead_time_days(campaign), error=Unprocessable
        )
        campaign.status = CampaignStatus.LIVE
        campaign.launched_at = timezone.now()
        Campaign.objects.filter(pk=campaign.pk).update(
            status=campaign.status, launched_at=campaign.launched_at
        )
        if campaign.kind == CampaignKind.SUBSCRIPTION:
            cycle_ensure_next(campaign)
        progress_announce(campaign)
    return campaign


def campaign_card_build(shop: Shop, payload: dict[str, Any]) -> dict[str, Any]:
    """Snapshot of a launched campaign for a chat card (registered in fans.chat.hooks.card_builders in ready())."""
    try:
        campaign_id = strict_id(payload.get("campaign"))
        if campaign_id is None:
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(_("A campaign card needs a campaign id.")) from None
    campaign = (
        Campaign.objects.select_related("product")
        .prefetch_related("tiers")
        .filter(pk=campaign_id, shop=shop)
        .exclude(status=CampaignStatus.DRAFT)
        .first()
    )
    if campaign is None:
        raise Invalid(_("That campaign is not running in this shop."), code="not_found")
    product = campaign.product
    card = {
        "campaign": campaign.pk,
        "kind": campaign.kind,
        "title": campaign.title,
        "name": campaign.title,
        "product": product.pk,
        "product_name": product.name,
        "image": product.image.url if product.image else "",
        "status": campaign.status,
        "committed_quantity": campaign.committed_quantity,
        "target_quantity": campaign.target_quantity,
        "cap": campaign.cap,
        "deadline": campaign.deadline.isoformat(),
        "deposit_percent": str(campaign.deposit_percent),
        "current_unit_price": str(campaign_current_unit_price(campaign)),
        "currency": campaign.currency,
        "tiers": [
            {"min_quantity": t.min_quantity, "unit_price": str(t.unit_price)} for t in campaign.tiers.all()
        ],
    }
    if isinstance(payload.get("text"), str):
        card["text"] = payload["text"][:200]
    return card
