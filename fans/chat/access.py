"""Permission-checked fetches for conversations (Zulip's access_message pattern)."""

from django.contrib.auth.models import AbstractBaseUser

from core.errors import NotFound
from core.inputs import strict_id
from fans.chat.models import Conversation, Fan, Side
from shops.models import ShopMember


def user_side(user: AbstractBaseUser, conversation: Conversation) -> str | None:
    """Which side of the conversation the user is on, or None when it is not theirs."""
    if conversation.fan.user_id == user.pk:
        return Side.FAN
    if ShopMember.objects.filter(shop_id=conversation.shop_id, user_id=user.pk, is_active=True).exists():
        return Side.SHOP
    return None


def access_conversation(
    user: AbstractBaseUser, conversation_id: int, *, lock: bool = False
) -> tuple[Conversation, str]:
    """The conversation and the user's side; NotFound for strangers, so ids leak nothing."""
    if not user.is_authenticated:
        raise NotFound()
    conversation_id = strict_id(conversation_id)  # `true` is not conversation 1
    if conversation_id is None:
        raise NotFound()
    qs = Conversation.objects.select_related("fan", "shop")
    if lock:
        qs = qs.select_for_update(of=("self",))
    conversation = qs.filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound()
    side = user_side(user, conversation)
    if side is None:
        raise NotFound()
    return conversation, side


def access_fan_as_staff(user: AbstractBaseUser, fan_id: int) -> tuple[Fan, ShopMember]:
    """A fan of one of the user's shops, with the user's membership there; NotFound otherwise."""
    if not user.is_authenticated:
        raise NotFound()
    fan = Fan.objects.select_related("shop", "user").filter(pk=fan_id).first()
    if fan is None:
        raise NotFound()
    member = ShopMember.objects.filter(shop_id=fan.shop_id, user=user, is_active=True).first()
    if member is None:
        raise NotFound()
    return fan, member
