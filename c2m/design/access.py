"""Permission-checked fetches of design rounds: the shop's team manages them (owner, manager), every member
reads them, and a fan of the shop sees launched ones. Anyone else gets NotFound (never a hint it exists)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from c2m.design.models import DesignPrePledge, DesignRound, RoundStatus
from core.errors import Forbidden, NotFound
from core.limits import MANAGING_ROLES
from fans.chat.models import Fan
from shops.models import ShopMember


def _role(user: AbstractBaseUser, shop_id: int) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        ShopMember.objects.filter(user=user, shop_id=shop_id, is_active=True)
        .values_list("role", flat=True)
        .first()
    )


def _pk(value: object) -> int:
    try:
        if isinstance(value, bool):  # `true` is not design 1
            raise ValueError
        pk = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < pk < 2**63:
        raise NotFound()
    return pk


def access_round_to_manage(user: AbstractBaseUser, round_id: object, *, lock: bool = False) -> DesignRound:
    qs = DesignRound.objects.select_related("shop", "product")
    if lock:
        qs = qs.select_for_update(of=("self",))
    rnd = qs.filter(pk=_pk(round_id)).first()
    role = _role(user, rnd.shop_id) if rnd else None
    if role is None:
        raise NotFound()
    if role not in MANAGING_ROLES:
        raise Forbidden()
    return rnd


def access_round(user: AbstractBaseUser, round_id: object) -> tuple[DesignRound, bool, Fan | None]:
    """(round, is_staff, the caller's fan row in the shop). Drafts only for the team."""
    rnd = DesignRound.objects.select_related("shop", "product", "factory").filter(pk=_pk(round_id)).first()
    if rnd is None or not user.is_authenticated:
        raise NotFound()
    is_staff = _role(user, rnd.shop_id) is not None
    fan = Fan.objects.filter(shop_id=rnd.shop_id, user=user).first()
    if not is_staff and (fan is None or rnd.status == RoundStatus.DRAFT):
        raise NotFound()
    return rnd, is_staff, fan


def access_round_as_fan(user: AbstractBaseUser, round_id: object) -> tuple[DesignRound, Fan]:
    rnd, _staff, fan = access_round(user, round_id)
    if fan is None:
        raise Forbidden()  # a team member without a fan row: votes are for fans
    return rnd, fan


def rounds_visible(user: AbstractBaseUser) -> QuerySet[DesignRound]:
    """The rounds of the shops the user works for, and the launched rounds of shops they follow."""
    from django.db.models import Q

    staff_shops = ShopMember.objects.filter(user=user, is_active=True).values("shop_id")
    fan_shops = Fan.objects.filter(user=user).values("shop_id")
    return DesignRound.objects.filter(
        Q(shop_id__in=staff_shops) | (Q(shop_id__in=fan_shops) & ~Q(status=RoundStatus.DRAFT))
    ).select_related("shop", "product")


def access_pre_pledge(user: AbstractBaseUser, pre_pledge_id: object) -> DesignPrePledge:
    """The caller's own pre-pledge."""
    if not user.is_authenticated:
        raise NotFound()
    pp = (
        DesignPrePledge.objects.select_related("vote", "vote__round", "campaign", "winner")
        .filter(pk=_pk(pre_pledge_id), vote__user=user)
        .first()
    )
    if pp is None:
        raise NotFound()
    return pp
