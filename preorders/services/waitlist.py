"""The waitlist, and topping a MOQ shortfall up from it.

A fan joins the waitlist of a full campaign (capped and sold out), or of one that has closed but not yet
ordered from the factory. When lapses leave a factory SKU under its MOQ and the owner chooses "top up",
waiting fans are offered a place in join order, at the final price, until the shortfall is covered: each
gets a confirmed pledge with the whole price as its balance and 48 hours to pay (the same pay-balance
endpoint). When every offer is paid, or the top-up deadline passes (unpaid offers lapse; they had no
deposit), the shortfall is checked again: covered, the factory order is built; still short, the owner
decides again.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import Conflict, NotFound
from fans.chat.models import Fan
from fans.chat.services import fan_follow
from preorders.access import access_campaign
from preorders.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    FactoryOrderSource,
    Pledge,
    PledgeStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from preorders.money import line_value
from preorders.services.pledge_rules import quantity_clean, variant_get

TOPUP_WINDOW = dt.timedelta(hours=48)


def waitlist_open(campaign: Campaign) -> bool:
    if campaign.kind != CampaignKind.GROUP:
        return False
    if campaign.status == CampaignStatus.LIVE:
        full = campaign.cap is not None and campaign.committed_quantity >= campaign.cap
        return full or campaign.deadline <= timezone.now()
    if campaign.status == CampaignStatus.SUCCEEDED:
        return not FactoryOrderSource.objects.filter(campaign=campaign).exists()
    return False


def waitlist_join(
    *, user: AbstractBaseUser, campaign_id: int, variant_id: Any, quantity: Any
) -> WaitlistEntry:
    """A fan asks for a place in a full (or closed, not yet ordered) campaign."""
    if not user.is_authenticated:
        raise NotFound()
    campaign, _is_staff = access_campaign(user, campaign_id)
    quantity = quantity_clean(quantity)
    variant = variant_get(campaign, variant_id)
    if not waitlist_open(campaign):
        raise Conflict(
            _("This campaign still takes pledges, or has ordered from the factory: no waitlist."),
            code="waitlist_not_open",
        )
    if campaign.per_fan_limit is not None and quantity > campaign.per_fan_limit:
        raise Conflict(
            _("At most %(n)d per fan in this campaign.") % {"n": campaign.per_fan_limit}, code="per_fan_limit"
        )
    fan = Fan.objects.filter(shop_id=campaign.shop_id, user=user).first() or fan_follow(
        user=user, shop=campaign.shop, via="campaign"
    )
    with transaction.atomic(durable=True):
        entry, created = WaitlistEntry.objects.get_or_create(
            campaign=campaign,
            user=user,
            defaults={"fan": fan, "variant": variant, "quantity": quantity},
        )
    if not created:
        raise Conflict(_("You are already on this waitlist."), code="already_waitlisted")
    return entry


def waitlist_summary(campaign: Campaign) -> dict[str, Any]:
    rows = (
        WaitlistEntry.objects.filter(campaign=campaign, status=WaitlistStatus.WAITING)
        .values("variant_id", "variant__name")
        .annotate(units=Sum("quantity"))
        .order_by("variant__name")
    )
    waiting = [
        {"variant": r["variant_id"], "variant_name": r["variant__name"], "units": r["units"]} for r in rows
    ]
    return {"waiting_units": sum(r["units"] for r in waiting), "by_variant": waiting}


def _sku(entry: WaitlistEntry) -> str:
    fv = entry.variant.factory_variant
    return fv.sku if fv is not None else entry.variant.sku


def campaign_top_up(*, campaign: Campaign) -> int:
    """Offer waiting fans the shortfall (inside the owner's decision); returns units offered.

    Joins the caller's transaction; the campaign row is locked by the caller."""
    short = campaign.moq_shortfall or {}
    need = {sku: row["moq"] - row["paid"] for sku, row in short.items() if sku != "*"}
    total_need = short.get("*", {}).get("moq", 0) - short.get("*", {}).get("paid", 0)
    room = None if campaign.cap is None else campaign.cap - campaign.committed_quantity
    final = campaign.final_unit_price
    now = timezone.now()
    chosen: list[WaitlistEntry] = []
    for entry in (
        WaitlistEntry.objects.select_related("variant__factory_variant")
        .filter(campaign=campaign, status=WaitlistStatus.WAITING)
        .order_by("created_at", "pk")
    ):
        if all(v <= 0 for v in need.values()) and total_need <= 0:
            break
        sku = _sku(entry)
        if need.get(sku, 0) <= 0 and total_need <= 0:
            continue
        if room is not None and entry.quantity > room:
            continue
        chosen.append(entry)
        need[sku] = need.get(sku, 0) - entry.quantity
        total_need -= entry.quantity
        if room is not None:
            room -= entry.quantity
    if not chosen:
        return 0
    units = 0
    for entry in chosen:
        pledge = Pledge.objects.create(
            campaign=campaign,
            fan_id=entry.fan_id,
            user_id=entry.user_id,
            variant=entry.variant,
            variant_name=entry.variant.name,
            sku=entry.variant.sku,
            quantity=entry.quantity,
            unit_price=final,
            deposit_amount=Decimal("0.00"),
            currency=campaign.currency,
            status=PledgeStatus.CONFIRMED,
            final_unit_price=final,
            balance_due=line_value(quantity=entry.quantity, unit_price=final),
        )
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistStatus.OFFERED, pledge=pledge)
        Fan.objects.filter(pk=entry.fan_id).update(pledge_count=F("pledge_count") + 1)
        units += entry.quantity
        transaction.on_commit(_tell(pledge.pk))
    Campaign.objects.filter(pk=campaign.pk).update(
        committed_quantity=F("committed_quantity") + units, topup_deadline=now + TOPUP_WINDOW
    )
    return units


def _tell(pledge_id: int):
    def tell() -> None:
        from preorders.services.notices import pledge_tell

        pledge_tell(
            pledge_id=pledge_id,
            what="topup_offer",
            text=lambda p: (
                _("A place opened in “%(title)s”: pay ¥%(amount)s by %(deadline)s and it is yours.")
                % {
                    "title": p.campaign.title,
                    "amount": p.balance_due,
                    "deadline": timezone.localtime(p.campaign.topup_deadline).strftime("%m-%d %H:%M"),
                }
            ),
            card={"action": "pay_balance"},
        )

    return tell


def topup_settle(*, campaign_id: int) -> str:
    """After a top-up: when every offer is paid or the top-up deadline passed, lapse the unpaid offers and
    check the MOQ again (built, or back to the owner). Safe to rerun."""
    from core.events import announce
    from preorders.services.factory_orders import campaign_rollup, moq_shortfall

    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.moq_decision != "top_up" or FactoryOrderSource.objects.filter(campaign=campaign).exists():
        return "done"
    offered = Pledge.objects.filter(
        campaign=campaign,
        status=PledgeStatus.CONFIRMED,
        pk__in=WaitlistEntry.objects.filter(campaign=campaign).values("pledge_id"),
    )
    if offered.exists() and campaign.topup_deadline and campaign.topup_deadline > timezone.now():
        return "waiting"
    with transaction.atomic(durable=True):
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.moq_decision != "top_up":
            return "done"
        lapsed = list(offered.select_for_update().values_list("pk", "quantity", "fan_id"))
        if lapsed:
            Pledge.objects.filter(pk__in=[p for p, _q, _f in lapsed]).update(
                status=PledgeStatus.LAPSED, updated_at=timezone.now()
            )
            units = sum(q for _p, q, _f in lapsed)
            Campaign.objects.filter(pk=campaign.pk).update(committed_quantity=F("committed_quantity") - units)
            WaitlistEntry.objects.filter(pledge_id__in=[p for p, _q, _f in lapsed]).update(
                status=WaitlistStatus.EXPIRED
            )
            for _p, _q, fan_id in lapsed:
                Fan.objects.filter(pk=fan_id, pledge_count__gte=1).update(pledge_count=F("pledge_count") - 1)
        campaign.refresh_from_db()
        short = moq_shortfall(campaign)
        if short:
            Campaign.objects.filter(pk=campaign.pk).update(moq_shortfall=short, moq_decision="")
            announce(
                [f"shop.{campaign.shop_id}"],
                {"type": "campaign.moq_shortfall", "campaign": campaign.pk, "shortfall": short},
            )
            return "moq_shortfall"
        campaign_rollup(campaign)
    return "ordered"


def topups_due() -> list[int]:
    """Beat entry: campaigns topping up whose offers are all paid or whose top-up deadline passed."""
    due = list(
        Campaign.objects.filter(moq_decision="top_up", status=CampaignStatus.SUCCEEDED)
        .exclude(pk__in=FactoryOrderSource.objects.filter(campaign__isnull=False).values("campaign_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for campaign_id in due:
        topup_settle(campaign_id=campaign_id)
    return due
