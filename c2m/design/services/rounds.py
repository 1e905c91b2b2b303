"""Creating and launching a design round, its comments, and assigning the decided round's factory."""

import logging
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from c2m.design import rules
from c2m.design.access import access_round, access_round_to_manage
from c2m.design.models import (
    DesignComment,
    DesignRound,
    RoundStatus,
)
from c2m.design.services.constants import COMMENT_MAX, MAX_CAMPAIGN_DAYS, MIN_CAMPAIGN_DAYS
from core.errors import Conflict, Invalid, NotFound
from fans.chat.append import text_check
from preorders.access import access_product_to_campaign
from preorders.services.campaigns import deadline_clean
from shops.models import Factory

logger = logging.getLogger(__name__)


# --- creating and launching ------------------------------------------------------------------------------


def round_create(
    *,
    user: AbstractBaseUser,
    product_id: Any,
    title: Any,
    attributes: Any,
    target_per_combination: Any,
    vote_deposit: Any,
    deadline: Any,
    description: Any = "",
    campaign_deposit_percent: Any = None,
    campaign_days: Any = None,
) -> DesignRound:
    """A draft round for one of the shop's products (owner or manager). Nothing is stored on any error."""
    try:
        pk = int(product_id)
        if isinstance(product_id, bool) or not 0 < pk < 2**63:
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(_("Choose a product."), code="product_invalid") from None
    product = access_product_to_campaign(user, pk)
    title = (title if isinstance(title, str) else "").strip()[:200]
    if not title:
        raise Invalid(_("A design round needs a title."), code="title_invalid")
    description = (description if isinstance(description, str) else "").strip()[:2000]
    clean_attributes = rules.attributes_clean(attributes)
    target = rules.target_clean(target_per_combination)
    deposit = rules.deposit_clean(vote_deposit)
    when = deadline_clean(deadline)
    percent = Decimal("20")
    if campaign_deposit_percent not in (None, ""):
        try:
            percent = Decimal(str(campaign_deposit_percent))
        except ArithmeticError:
            percent = Decimal("NaN")
        if not percent.is_finite() or not 0 < percent <= 100 or percent != percent.quantize(Decimal("0.01")):
            raise Invalid(_("Enter a percentage between 0 and 100."), code="deposit_percent_invalid")
    days = 14
    if campaign_days not in (None, ""):
        try:
            days = int(campaign_days)
        except (TypeError, ValueError):
            days = 0
        if not MIN_CAMPAIGN_DAYS <= days <= MAX_CAMPAIGN_DAYS:
            raise Invalid(
                _("The campaigns run between %(a)d and %(b)d days.")
                % {"a": MIN_CAMPAIGN_DAYS, "b": MAX_CAMPAIGN_DAYS},
                code="campaign_days_invalid",
            )
    with transaction.atomic():
        return DesignRound.objects.create(
            shop=product.shop,
            product=product,
            title=title,
            description=description,
            attributes=clean_attributes,
            attribute_order=list(clean_attributes),
            target_per_combination=target,
            vote_deposit=deposit,
            deadline=when,
            campaign_deposit_percent=percent,
            campaign_days=days,
            created_by=user,
        )


def round_launch(*, user: AbstractBaseUser, round_id: Any) -> DesignRound:
    with transaction.atomic(durable=True):
        rnd = access_round_to_manage(user, round_id, lock=True)
        if rnd.status != RoundStatus.DRAFT:
            raise Conflict(_("Only a draft round can be launched."), code="not_draft")
        if rnd.deadline <= timezone.now():
            raise Conflict(_("The deadline has passed; create a new round."), code="deadline_past")
        rnd.status, rnd.launched_at = RoundStatus.LIVE, timezone.now()
        DesignRound.objects.filter(pk=rnd.pk).update(status=rnd.status, launched_at=rnd.launched_at)
    return rnd


# --- comments ----------------------------------------------------------------------------------------------


def comment_add(*, user: AbstractBaseUser, round_id: Any, text: Any) -> DesignComment:
    rnd, is_staff, fan = access_round(user, round_id)
    text = (text if isinstance(text, str) else "").strip()
    text_check(text)
    if len(text) > COMMENT_MAX:
        raise Invalid(_("A comment can have at most %(n)d characters.") % {"n": COMMENT_MAX}, code="too_long")
    if rnd.status == RoundStatus.CANCELLED:
        raise Conflict(_("This round was cancelled."), code="round_cancelled")
    with transaction.atomic():
        return DesignComment.objects.create(
            round=rnd, user=user, fan=None if is_staff else fan, is_staff=is_staff, text=text
        )


# --- factory -----------------------------------------------------------------------------------------------


def round_factory_assign(*, round_id: int, factory_id: int) -> DesignRound:
    """Platform admin: the decided round's winners go to this factory (its board lists them)."""
    with transaction.atomic():
        rnd = DesignRound.objects.select_for_update().filter(pk=round_id).first()
        if rnd is None:
            raise NotFound()
        if rnd.status != RoundStatus.DECIDED:
            raise Conflict(_("Only a decided round goes to a factory."), code="not_decided")
        if not Factory.objects.filter(pk=factory_id).exists():
            raise Invalid(_("Choose a factory from the list."), code="factory_invalid")
        rnd.factory_id, rnd.factory_assigned_at = factory_id, timezone.now()
        DesignRound.objects.filter(pk=rnd.pk).update(
            factory_id=factory_id, factory_assigned_at=rnd.factory_assigned_at
        )
    return rnd
