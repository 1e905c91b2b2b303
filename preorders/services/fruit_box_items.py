"""The owner's fruit-box items: what goes in the standard box, the options to swap in, ripening days."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid
from preorders.access import access_box_item_to_manage, access_campaign_to_manage
from preorders.box_models import (
    MAX_RIPEN_DAYS,
    BoxItem,
    BoxSwap,
)
from preorders.box_selectors import (
    swap_valid,
)
from preorders.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
)

# A module import: subscriptions imports box_cycle_plan from here for cycle_cut.
from preorders.services.fruit_box import UNSET, _price, _text, _whole

# --- the owner's items ------------------------------------------------------------------------------------


def _box_campaign(user: AbstractBaseUser, campaign_id: int) -> Campaign:
    campaign = access_campaign_to_manage(user, campaign_id)
    if campaign.kind != CampaignKind.SUBSCRIPTION:
        raise Conflict(_("Only a subscription has a box."), code="not_subscription")
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.LIVE):
        raise Conflict(_("This subscription has ended."), code="campaign_closed")
    return campaign


def _item_fields(
    *,
    name: Any = UNSET,
    unit_price: Any = UNSET,
    ripen_days: Any = UNSET,
    quantity: Any = UNSET,
    is_default: Any = UNSET,
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if name is not UNSET:
        fields["name"] = _text(
            name,
            max_length=60,
            code="box_item_name_invalid",
            message=_("Give the fruit a name (up to 60 characters)."),
        )
    if unit_price is not UNSET:
        fields["unit_price"] = _price(unit_price)
    if ripen_days is not UNSET:
        fields["ripen_days"] = _whole(
            ripen_days,
            lo=0,
            hi=MAX_RIPEN_DAYS,
            code="ripen_days_invalid",
            message=_("Ready to eat after 0 to %(n)s days.") % {"n": MAX_RIPEN_DAYS},
        )
    if quantity is not UNSET:
        fields["quantity"] = _whole(
            quantity, lo=1, hi=99, code="box_item_quantity_invalid", message=_("The quantity is 1 to 99.")
        )
    if is_default is not UNSET:
        if not isinstance(is_default, bool):
            raise Invalid(_("is_default must be true or false."), code="box_item_role_invalid")
        fields["is_default"] = is_default
    return fields


def _name_taken(campaign_id: int, name: str, *, but: int | None = None) -> None:
    if BoxItem.objects.filter(campaign_id=campaign_id, name=name).exclude(pk=but).exists():
        raise Conflict(_("The box already has %(name)s.") % {"name": name}, code="box_item_exists")


def _save_item(item: BoxItem) -> None:
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:  # the same name added at the same moment
        raise Conflict(
            _("The box already has %(name)s.") % {"name": item.name}, code="box_item_exists"
        ) from None


def box_item_create(
    *,
    user: AbstractBaseUser,
    campaign_id: int,
    name: Any,
    unit_price: Any,
    ripen_days: Any = 0,
    quantity: Any = 1,
    is_default: Any = True,
) -> BoxItem:
    fields = _item_fields(
        name=name, unit_price=unit_price, ripen_days=ripen_days, quantity=quantity, is_default=is_default
    )
    with transaction.atomic(durable=True):
        campaign = _box_campaign(user, campaign_id)
        _name_taken(campaign.pk, fields["name"])
        last = BoxItem.objects.filter(campaign=campaign).aggregate(m=Max("position"))["m"]
        item = BoxItem(campaign=campaign, position=0 if last is None else last + 1, **fields)
        _save_item(item)
    return item


def box_item_update(*, user: AbstractBaseUser, item_id: int, **changes: Any) -> BoxItem:
    """Change an item; fans' swaps that no longer pair a standard item with an equal-price option go."""
    fields = _item_fields(**changes)
    if not fields:
        raise Invalid(_("Nothing to change."), code="invalid")
    with transaction.atomic(durable=True):
        item = access_box_item_to_manage(user, item_id, lock=True)
        _box_campaign(user, item.campaign_id)
        if "name" in fields:
            _name_taken(item.campaign_id, fields["name"], but=item.pk)
        for key, value in fields.items():
            setattr(item, key, value)
        _save_item(item)
        stale = [
            s.pk
            for s in BoxSwap.objects.filter(Q(item=item) | Q(option=item)).select_related("item", "option")
            if not swap_valid(s.item, s.option)
        ]
        BoxSwap.objects.filter(pk__in=stale).delete()
    return item


def box_item_delete(*, user: AbstractBaseUser, item_id: int) -> None:
    """Remove an item; fans' swaps and never-lists that named it go with it."""
    with transaction.atomic(durable=True):
        item = access_box_item_to_manage(user, item_id, lock=True)
        _box_campaign(user, item.campaign_id)
        item.delete()
