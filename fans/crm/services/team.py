"""Team tools: handing a departing staff member's fans and conversations to another."""

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Invalid
from fans.chat.models import Conversation, Fan
from fans.crm.services.common import audit
from shops.models import ShopMember
from shops.roles import require_managing


def staff_handover(*, member: ShopMember, from_user_id: int, to_user_id: int | None) -> int:
    """Hand every fan and conversation of a (departing) staff member to another; returns how many fans."""
    require_managing(member, _("Only owners and managers hand over fans."))
    shop = member.shop
    if not ShopMember.objects.filter(shop=shop, user_id=from_user_id).exists():
        raise Invalid(_("That person is not on this shop's team."))
    if (
        to_user_id is not None
        and not ShopMember.objects.filter(shop=shop, user_id=to_user_id, is_active=True).exists()
    ):
        raise Invalid(_("The new owner of these fans must be an active team member."))
    if to_user_id == from_user_id:
        raise Invalid(_("Hand over to someone else."))
    with transaction.atomic():
        count = Fan.objects.filter(shop=shop, assigned_to_id=from_user_id).update(assigned_to_id=to_user_id)
        Conversation.objects.filter(shop=shop, assigned_to_id=from_user_id).update(assigned_to_id=to_user_id)
        audit(
            shop=shop,
            actor=member.user,
            action="team.handover",
            count=count,
            from_user=from_user_id,
            to_user=to_user_id,
        )
    return count
