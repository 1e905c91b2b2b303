"""Tagging one fan or many: single-choice groups replace, every change is recorded in history.

FanTag is the source of truth; Fan.tag_ids (and on PostgreSQL the fan's FanTagSet) is refreshed from it in the same
transaction. On PostgreSQL the bulk paths are set-based SQL (at most three statements a batch, whatever its size);
elsewhere they use the ORM.
"""

from collections.abc import Iterable, Mapping, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from core.db import is_postgresql
from fans.chat.models import Fan
from fans.crm.models import FanTag, FanTagEvent, Tag, TagChoice, TagSource
from fans.crm.vocabulary import check_not_system, check_single_choice

BATCH = 5000


def source_for(role: str) -> str:
    return TagSource.OWNER if role == "owner" else TagSource.STAFF


# One statement for a batch of fans: recompute each fan's tag ids from FanTag, write them to Fan.tag_ids (which
# recommend serving reads) and to the fan's FanTagSet row (which segment queries scan). Rows whose tags did not
# change are left alone, so an import's notes-only rows cost no index entries.
_REFRESH_SQL = (
    "WITH v AS (SELECT * FROM unnest(%s::bigint[], %s::text[]) AS v(id, notes)), "
    "t AS (SELECT f.id, f.shop_id, f.joined_at, v.notes, COALESCE((SELECT array_agg(ft.tag_id::integer "
    "ORDER BY ft.tag_id) FROM fans_fantag ft WHERE ft.fan_id = f.id), '{}') AS tags "
    "FROM v JOIN fans_fan f ON f.id = v.id), "
    "fan AS (UPDATE fans_fan f SET tag_ids = to_jsonb(t.tags), notes = COALESCE(t.notes, f.notes) FROM t "
    "WHERE f.id = t.id AND (f.tag_ids <> to_jsonb(t.tags) OR t.notes IS NOT NULL)) "
    "INSERT INTO fans_fantagset (fan_id, shop_id, joined_at, tags) SELECT id, shop_id, joined_at, tags FROM t "
    "ON CONFLICT (fan_id) DO UPDATE SET tags = EXCLUDED.tags WHERE fans_fantagset.tags <> EXCLUDED.tags"
)


def fan_tag_ids_refresh(fan_ids: Sequence[int], *, notes: Mapping[int, str] | None = None) -> None:
    """Recompute Fan.tag_ids (and on PostgreSQL the fan's FanTagSet) from FanTag for these fans.

    `notes` (an import's) are written in the same row update, so such a fan costs one new row version.
    """
    notes = notes or {}
    if not fan_ids and not notes:
        return
    with connection.cursor() as cursor:
        if is_postgresql(connection):
            ids = sorted(set(fan_ids) | set(notes))
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                cursor.execute(_REFRESH_SQL, [chunk, [notes.get(i) for i in chunk]])
            return
        if notes:
            Fan.objects.bulk_update(
                [Fan(pk=pk, notes=text) for pk, text in notes.items()], ["notes"], batch_size=500
            )
        for start in range(0, len(fan_ids), 500):
            ids = list(fan_ids[start : start + 500])
            cursor.execute(
                "UPDATE fans_fan SET tag_ids = COALESCE((SELECT json_group_array(tag_id) FROM "
                "(SELECT tag_id FROM fans_fantag WHERE fan_id = fans_fan.id ORDER BY tag_id)), '[]') "
                f"WHERE id IN ({', '.join(['%s'] * len(ids))})",
                ids,
            )


def fan_tags_change(
    *,
    fan: Fan,
    add: Sequence[Tag] = (),
    remove: Sequence[Tag] = (),
    source: str,
    actor: AbstractBaseUser | None,
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
    *,
    fan_ids: Sequence[int],
    tags: Iterable[Tag],
    source: str,
    actor: AbstractBaseUser | None,
    changed: set[int] | None = None,
) -> int:
    """Give every fan in fan_ids each tag; returns how many assignments were new. Joins the caller's transaction.

    With `changed`, the ids of fans whose tags changed are collected there and their Fan.tag_ids is left for
    the caller to refresh once (an import applies many tags to the same fans).
    """
    tags = list(tags)
    check_single_choice(tags)
    if source != TagSource.SYSTEM:
        check_not_system(tags)
    add = _add_one_tag_sql if is_postgresql(connection) else _add_one_tag_orm
    created = 0
    with transaction.atomic():
        for start in range(0, len(fan_ids), BATCH):
            ids = list(fan_ids[start : start + BATCH])
            touched: set[int] = set()
            for tag in tags:
                new_ids = add(ids, tag, source, actor)
                created += len(new_ids)
                touched.update(new_ids)
            if changed is None:
                fan_tag_ids_refresh(sorted(touched))
            else:
                changed |= touched
    return created


def _add_one_tag_sql(ids: list[int], tag: Tag, source: str, actor: AbstractBaseUser | None) -> set[int]:
    """Returns the fans that got the tag now (a replaced single-choice value implies a new one)."""
    single = tag.group.choice == TagChoice.SINGLE
    actor_id = actor.pk if actor is not None else None
    now = timezone.now()
    with connection.cursor() as cur:
        if single:
            # A new value in a single-choice group replaces the old one.
            cur.execute(
                "WITH gone AS (DELETE FROM fans_fantag WHERE fan_id = ANY(%s) AND group_id = %s AND tag_id <> %s "
                "RETURNING fan_id, tag_id) "
                "INSERT INTO fans_fantagevent (fan_id, tag_id, action, source, actor_id, created_at) "
                "SELECT fan_id, tag_id, %s, %s, %s, %s FROM gone",
                [ids, tag.group_id, tag.pk, FanTagEvent.REMOVE, source, actor_id, now],
            )
        cur.execute(
            "WITH new AS (INSERT INTO fans_fantag (fan_id, tag_id, group_id, single, source, added_by_id, created_at) "
            # From fans_fan, not the bare ids: FanTag.fan has no database foreign key, so a fan deleted since the
            # caller read its id gets no row.
            "SELECT f.id, %s, %s, %s, %s, %s, %s FROM fans_fan f WHERE f.id = ANY(%s::bigint[]) "
            "ON CONFLICT DO NOTHING RETURNING fan_id) "
            "INSERT INTO fans_fantagevent (fan_id, tag_id, action, source, actor_id, created_at) "
            "SELECT fan_id, %s, %s, %s, %s, %s FROM new RETURNING fan_id",
            [
                tag.pk,
                tag.group_id,
                single,
                source,
                actor_id,
                now,
                ids,
                tag.pk,
                FanTagEvent.ADD,
                source,
                actor_id,
                now,
            ],
        )
        return {row[0] for row in cur.fetchall()}


def _add_one_tag_orm(ids: list[int], tag: Tag, source: str, actor: AbstractBaseUser | None) -> set[int]:
    single = tag.group.choice == TagChoice.SINGLE
    events: list[FanTagEvent] = []
    if single:
        replaced = list(
            FanTag.objects.filter(fan_id__in=ids, group_id=tag.group_id)
            .exclude(tag_id=tag.pk)
            .values_list("pk", "fan_id", "tag_id")
        )
        if replaced:
            FanTag.objects.filter(pk__in=[r[0] for r in replaced]).delete()
            events += [
                FanTagEvent(fan_id=f, tag_id=t, action=FanTagEvent.REMOVE, source=source, actor=actor)
                for _, f, t in replaced
            ]
    have = set(FanTag.objects.filter(fan_id__in=ids, tag=tag).values_list("fan_id", flat=True))
    exist = set(Fan.objects.filter(pk__in=ids).values_list("pk", flat=True))  # no database FK on FanTag.fan
    new_ids = [f for f in ids if f in exist and f not in have]
    FanTag.objects.bulk_create(
        [
            FanTag(fan_id=f, tag=tag, group_id=tag.group_id, single=single, source=source, added_by=actor)
            for f in new_ids
        ],
        batch_size=BATCH,
    )
    events += [
        FanTagEvent(fan_id=f, tag=tag, action=FanTagEvent.ADD, source=source, actor=actor) for f in new_ids
    ]
    FanTagEvent.objects.bulk_create(events, batch_size=BATCH)
    return set(new_ids)


def fan_tags_bulk_remove(
    *, fan_ids: Sequence[int], tags: Iterable[Tag], source: str, actor: AbstractBaseUser | None
) -> int:
    tags = list(tags)
    if source != TagSource.SYSTEM:
        check_not_system(tags)
    tag_ids = [t.pk for t in tags]
    actor_id = actor.pk if actor is not None else None
    removed = 0
    with transaction.atomic():
        for start in range(0, len(fan_ids), BATCH):
            ids = list(fan_ids[start : start + BATCH])
            if is_postgresql(connection):
                with connection.cursor() as cur:
                    cur.execute(
                        "WITH gone AS (DELETE FROM fans_fantag WHERE fan_id = ANY(%s) AND tag_id = ANY(%s) "
                        "RETURNING fan_id, tag_id) "
                        "INSERT INTO fans_fantagevent (fan_id, tag_id, action, source, actor_id, created_at) "
                        "SELECT fan_id, tag_id, %s, %s, %s, %s FROM gone RETURNING fan_id",
                        [ids, tag_ids, FanTagEvent.REMOVE, source, actor_id, timezone.now()],
                    )
                    gone = [row[0] for row in cur.fetchall()]
            else:
                rows = list(
                    FanTag.objects.filter(fan_id__in=ids, tag_id__in=tag_ids).values_list(
                        "pk", "fan_id", "tag_id"
                    )
                )
                FanTag.objects.filter(pk__in=[r[0] for r in rows]).delete()
                FanTagEvent.objects.bulk_create(
                    [
                        FanTagEvent(fan_id=f, tag_id=t, action=FanTagEvent.REMOVE, source=source, actor=actor)
                        for _, f, t in rows
                    ],
                    batch_size=BATCH,
                )
                gone = [f for _, f, _ in rows]
            if gone:
                fan_tag_ids_refresh(sorted(set(gone)))
            removed += len(gone)
    return removed
