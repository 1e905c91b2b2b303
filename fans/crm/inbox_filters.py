"""The inbox's filter by fan tag (fans.chat.hooks.conversation_fan_filters): chat cannot read tags itself."""

from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from core.errors import Invalid
from fans.crm.models import FanTag, Tag
from fans.crm.vocabulary import tag_groups_for_shop
from shops.models import Shop


def tag_for_inbox(shop_ids: list[int], value: str) -> Tag:
    """The tag named by an id or by "group:tag" codes, among those the caller's shops may use."""
    scope = Q(group__shop__isnull=True) | Q(group__shop_id__in=shop_ids)
    value = (value or "").strip()
    if value.isdigit():
        tag = Tag.objects.filter(scope, pk=int(value)).first()
    else:
        group_code, sep, tag_code = value.partition(":")
        if not sep or not group_code or not tag_code:
            raise Invalid(
                _('A tag filter is a tag id or "group:tag", e.g. "skin_type:oily".'), code="unknown_tag"
            )
        # A shop's own group with the same code wins over the platform's.
        tag = (
            Tag.objects.filter(scope, group__code=group_code, code=tag_code)
            .order_by("group__shop_id")
            .first()
        )
    if tag is None:
        raise Invalid(_("Unknown tag: %(tag)s") % {"tag": value}, code="unknown_tag")
    return tag


class InboxTagFilter:
    """fans.chat's conversation filter by the fan's tag."""

    def q(self, shop_ids: list[int], value: str) -> Any:
        """Conversations whose fan holds the tag (FanTag's (tag, fan) index answers it)."""
        tag = tag_for_inbox(shop_ids, value)
        return Exists(FanTag.objects.filter(fan_id=OuterRef("fan_id"), tag_id=tag.pk))

    def choices(self, shop: Shop) -> list[tuple[str, str]]:
        """('group:tag', '肤质 · 油皮' in the UI language) for each tag of the shop's vocabulary."""
        return [
            (f"{group.code}:{tag.code}", f"{group.name} · {tag.name}")
            for group in tag_groups_for_shop(shop)
            for tag in group.tags.all()
        ]
