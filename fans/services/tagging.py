"""Tagging one fan or many: single-choice groups replace, every change is recorded in history."""

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from fans.models import Fan, FanTag, FanTagEvent, Tag, TagChoice, TagSource
from fans.vocabulary import check_single_choice

BATCH = 5000


def source_for(role: str) -> str:
    return TagSource.OWNER if role == "owner" else TagSource.STAFF


def fan_tags_change(
    *, fan: Fan, add: Sequence[Tag] = (), remove: Sequence[Tag] = (), source: str, actor: AbstractBaseUser | None
) -> Fan:
    """Add and remove tags on one fan in one transaction."""
    check_single_choice(add)
    with transaction.atomic():
        Fan.objects.select_for_update().filter(pk=fan.pk).first()
        if remove:
            fan_tags_bulk_remove(fan_ids=[fan.pk], tags=remove, source=source, actor=actor)
        for tag in add:
            fan_tags_bulk_add(fan_ids=[fan.pk], tags=[tag], source=source, actor=actor)
    return fan


def fan_tags_bulk_add(
    *, fan_ids: Sequence[int], tags: Iterable[Tag], source: str, actor: AbstractBaseUser | None
) -> int:
    """Give every fan in fan_ids each tag; returns how many assignments were new. Joins the caller's transaction."""
    tags = list(tags)
    check_single_choice(tags)
    created = 0
    with transaction.atomic():
        for start in range(0, len(fan_ids), BATCH):
            ids = list(fan_ids[start : start + BATCH])
            for tag in tags:
                created += _add_one_tag(ids, tag, source, actor)
    return created


def _add_one_tag(ids: list[int], tag: Tag, source: str, actor: AbstractBaseUser | None) -> int:
    single = tag.group.choice == TagChoice.SINGLE
    events: list[FanTagEvent] = []
    if single:
        # A new value in a single-choice group replaces the old one.
        replaced = list(
            FanTag.objects.filter(fan_id__in=ids, group_id=tag.group_id).exclude(tag_id=tag.pk).values_list("pk", "fan_id", "tag_id")
        )
        if replaced:
            FanTag.objects.filter(pk__in=[r[0] for r in replaced]).delete()
            events += [
                FanTagEvent(fan_id=f, tag_id=t, action=FanTagEvent.REMOVE, source=source, actor=actor) for _, f, t in replaced
            ]
    have = set(FanTag.objects.filter(fan_id__in=ids, tag=tag).values_list("fan_id", flat=True))
    new_ids = [f for f in ids if f not in have]
    FanTag.objects.bulk_create(
        [FanTag(fan_id=f, tag=tag, group_id=tag.group_id, single=single, source=source, added_by=actor) for f in new_ids],
        batch_size=BATCH,
    )
    events += [FanTagEvent(fan_id=f, tag=tag, action=FanTagEvent.ADD, source=source, actor=actor) for f in new_ids]
    FanTagEvent.objects.bulk_create(events, batch_size=BATCH)
    return len(new_ids)


def fan_tags_bulk_remove(
    *, fan_ids: Sequence[int], tags: Iterable[Tag], source: str, actor: AbstractBaseUser | None
) -> int:
    tag_ids = [t.pk for t in tags]
    removed = 0
    with transaction.atomic():
        for start in range(0, len(fan_ids), BATCH):
            ids = list(fan_ids[start : start + BATCH])
            rows = list(FanTag.objects.filter(fan_id__in=ids, tag_id__in=tag_ids).values_list("pk", "fan_id", "tag_id"))
            if not rows:
                continue
            FanTag.objects.filter(pk__in=[r[0] for r in rows]).delete()
            FanTagEvent.objects.bulk_create(
                [FanTagEvent(fan_id=f, tag_id=t, action=FanTagEvent.REMOVE, source=source, actor=actor) for _, f, t in rows],
                batch_size=BATCH,
            )
            removed += len(rows)
    return removed
