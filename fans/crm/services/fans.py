"""Writes on one fan, their tags and notes, segments and the shop's tag vocabulary."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import Conflict, Invalid, NotFound
from fans.chat.models import Fan
from fans.crm.filters import fan_filter_clean
from fans.crm.models import Segment, Tag, TagSource
from fans.crm.services.common import audit
from fans.crm.services.tagging import fan_tags_bulk_remove, fan_tags_change, source_for
from fans.crm.vocabulary import check_not_system, split_tag_list, system_group_ids, tags_resolve
from shops.models import ShopMember
from shops.roles import require_act_on_work_of, require_managing


def fan_tags_update(*, member: ShopMember, fan: Fan, add: list[str], remove: list[str]) -> Fan:
    """Tag or untag one fan from `group:tag` strings (the API's POST /fans/{id}/tags/)."""
    add_tags = tags_resolve(member.shop, split_tag_list(add))
    remove_tags = tags_resolve(member.shop, split_tag_list(remove))
    check_not_system(add_tags + remove_tags)
    if {t.pk for t in add_tags} & {t.pk for t in remove_tags}:
        raise Invalid(_("A tag cannot be added and removed at once."))
    fan_tags_change(
        fan=fan, add=add_tags, remove=remove_tags, source=source_for(member.role), actor=member.user
    )
    return fan


def fan_notes_update(*, member: ShopMember, fan: Fan, notes: str) -> Fan:
    """Any member may write one fan's notes (shops.roles: overwriting many fans' notes is for managers)."""
    if len(notes) > 5000:
        raise Invalid(_("Notes can have at most 5,000 characters."), code="too_long")
    Fan.objects.filter(pk=fan.pk).update(notes=notes)
    fan.notes = notes
    return fan


def segment_create(*, member: ShopMember, name: str, filter: dict[str, Any]) -> Segment:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid(_("A segment needs a name of at most 100 characters."))
    clean = fan_filter_clean(member.shop, filter or {})
    if Segment.objects.filter(shop=member.shop, name=name).exists():
        raise Conflict(_("A segment with this name exists already."), code="duplicate_name")
    return Segment.objects.create(shop=member.shop, name=name, filter=clean, created_by=member.user)


def segment_delete(*, member: ShopMember, segment: Segment) -> None:
    require_act_on_work_of(member, segment.created_by_id)
    segment.delete()


def fan_tags_erase(*, user: AbstractBaseUser, shop_id: int) -> int:
    """A fan asks a shop to remove every tag it holds on them; done at once and audited."""
    fan = Fan.objects.select_related("shop").filter(shop_id=shop_id, user=user).first()
    if fan is None:
        raise NotFound()
    with transaction.atomic():
        # The lifecycle tags are computed from orders and activity, not held as an opinion: they stay.
        tags = list(Tag.objects.filter(fan_tags__fan=fan).exclude(group_id__in=system_group_ids()))
        removed = fan_tags_bulk_remove(fan_ids=[fan.pk], tags=tags, source=TagSource.FAN, actor=user)
        audit(shop=fan.shop, actor=user, action="privacy.tags_erased", count=removed, fan=fan.pk)
    return removed


def fan_personalisation_set(*, user: AbstractBaseUser, shop_id: int, opt_out: bool) -> bool:
    """A fan turns a shop's personalisation off (or back on): recommendations stop using their tags, history
    and what they said in chat, and the shop's "fans most likely to join" no longer lists them. Audited."""
    with transaction.atomic():
        fan = (
            Fan.objects.select_for_update().select_related("shop").filter(shop_id=shop_id, user=user).first()
        )
        if fan is None:
            raise NotFound()
        if fan.personalisation_opt_out != opt_out:
            fan.personalisation_opt_out = opt_out
            fan.save(update_fields=["personalisation_opt_out"])
            action = "privacy.personalisation_off" if opt_out else "privacy.personalisation_on"
            audit(shop=fan.shop, actor=user, action=action, fan=fan.pk)
    return opt_out


def tag_group_create(
    *,
    member: ShopMember,
    code: str,
    name_zh: str,
    name_en: str,
    choice: str,
    scope: str,
    tags: list[dict[str, str]],
):
    """A shop's private tag group; its code may not shadow a platform group's."""
    from fans.crm.models import TagGroup

    require_managing(member)
    if (
        TagGroup.objects.filter(code=code, shop__isnull=True).exists()
        or TagGroup.objects.filter(code=code, shop=member.shop).exists()
    ):
        raise Conflict(_("A tag group with this code exists already."), code="duplicate_code")
    codes = [t["code"] for t in tags]
    if len(set(codes)) != len(codes):
        raise Invalid(_("Tag codes in a group must be unique."))
    with transaction.atomic():
        group = TagGroup.objects.create(
            shop=member.shop,
            code=code,
            name_zh=name_zh,
            name_en=name_en,
            choice=choice,
            scope=scope,
            position=100 + TagGroup.objects.filter(shop=member.shop).count(),
        )
        Tag.objects.bulk_create([Tag(group=group, position=i, **t) for i, t in enumerate(tags)])
        audit(shop=member.shop, actor=member.user, action="tag_group.create", count=len(tags), code=code)
    return group
