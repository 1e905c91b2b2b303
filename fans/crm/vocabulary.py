"""Tag strings (`group_code:tag_code`) and the vocabulary a shop may use: platform groups plus its own."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from core.errors import Invalid
from fans.crm.models import SYSTEM_GROUPS, Tag, TagChoice, TagGroup
from shops.models import Shop


def tag_string(tag: Tag) -> str:
    return f"{tag.group.code}:{tag.code}"


def tag_groups_for_shop(shop: Shop | None) -> QuerySet[TagGroup]:
    scope = Q(shop__isnull=True) | Q(shop=shop) if shop is not None else Q(shop__isnull=True)
    return TagGroup.objects.filter(scope).prefetch_related("tags").order_by("shop_id", "position", "pk")


def split_tag_list(value: str | Iterable[str] | None) -> list[str]:
    """Accept "a:b,c:d" (query strings, CSV cells with , or ;) or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.replace(";", ",").split(",")
    elif not isinstance(value, list | tuple):
        raise Invalid(_('Tags must be a list of strings like "skin_type:oily".'), code="tags_invalid")
    else:
        parts = []
        for item in value:
            if not isinstance(item, str):
                raise Invalid(_('Tags must be strings like "skin_type:oily".'), code="invalid")
            parts.append(item)
    return [p.strip() for p in parts if p and p.strip()]


def tags_resolve(shop: Shop, strings: Iterable[str]) -> list[Tag]:
    """Tag objects for `group:tag` strings usable by this shop; unknown ones raise `unknown_tag`."""
    wanted: list[tuple[str, str]] = []
    bad: list[str] = []
    for s in strings:
        group_code, sep, tag_code = s.partition(":")
        if not sep or not group_code or not tag_code:
            bad.append(s)
        else:
            wanted.append((group_code, tag_code))
    if bad:
        raise Invalid(
            _('Tags are written "group:tag", e.g. "skin_type:oily": %(bad)s') % {"bad": ", ".join(bad)},
            code="unknown_tag",
            detail={"unknown": bad},
        )
    if not wanted:
        return []
    cond = Q()
    for group_code, tag_code in set(wanted):
        cond |= Q(group__code=group_code, code=tag_code)
    found = {
        (t.group.code, t.code): t
        for t in Tag.objects.select_related("group")
        .filter(cond)
        .filter(Q(group__shop__isnull=True) | Q(group__shop=shop))
    }
    missing = [f"{g}:{t}" for g, t in wanted if (g, t) not in found]
    if missing:
        raise Invalid(
            _("Unknown tags: %(tags)s") % {"tags": ", ".join(missing)},
            code="unknown_tag",
            detail={"unknown": missing},
        )
    ordered: dict[int, Tag] = {}
    for key in wanted:
        ordered.setdefault(found[key].pk, found[key])
    return list(ordered.values())


def check_single_choice(tags: Iterable[Tag]) -> None:
    """Two values of one single-choice group cannot be added together."""
    seen: dict[int, Tag] = {}
    for tag in tags:
        if tag.group.choice != TagChoice.SINGLE:
            continue
        if tag.group_id in seen and seen[tag.group_id].pk != tag.pk:
            raise Invalid(
                _("%(group)s allows one value: %(a)s or %(b)s.")
                % {"group": tag.group.code, "a": tag_string(seen[tag.group_id]), "b": tag_string(tag)},
                code="single_choice",
            )
        seen[tag.group_id] = tag


def system_group_ids() -> set[int]:
    """The platform groups whose tags only the platform sets (the lifecycle tags, source "system")."""
    return set(
        TagGroup.objects.filter(shop__isnull=True, code__in=SYSTEM_GROUPS).values_list("pk", flat=True)
    )


def check_not_system(tags: Iterable[Tag]) -> None:
    """System tags are computed (fans.crm.lifecycle): nobody adds or removes them by hand. Filters may use them."""
    tags = list(tags)
    if not tags:
        return
    system = system_group_ids()
    bad = [t for t in tags if t.group_id in system]
    if bad:
        raise Invalid(
            _("%(tags)s are set automatically every night and cannot be added or removed by hand.")
            % {"tags": ", ".join(tag_string(t) for t in bad)},
            code="system_tag",
            detail={"tags": [tag_string(t) for t in bad]},
        )
