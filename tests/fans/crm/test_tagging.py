import pytest
from django.db import IntegrityError, transaction

from core.errors import Invalid
from fans.crm.models import FanTag, FanTagEvent, Tag, TagSource
from fans.crm.services.tagging import fan_tags_bulk_add, fan_tags_bulk_remove, fan_tags_change
from fans.crm.vocabulary import tags_resolve
from tests.factories import FanFactory

pytestmark = pytest.mark.django_db


def tag(s: str) -> Tag:
    group, code = s.split(":")
    return Tag.objects.select_related("group").get(group__code=group, code=code, group__shop__isnull=True)


def test_starter_vocabulary_is_shipped():
    assert set(Tag.objects.filter(group__code="skin_type").values_list("code", flat=True)) == {
        "dry",
        "combination",
        "oily",
        "normal",
        "sensitive",
    }
    assert tag("skin_type:oily").group.choice == "single"
    assert tag("skin_concern:acne").group.choice == "multi"
    assert {"value", "looks"} <= set(
        Tag.objects.filter(group__code="preference").values_list("code", flat=True)
    )
    assert Tag.objects.filter(group__code="household", code__startswith="baby").exists()
    for group in ("fruit_taste", "clothing_size"):
        assert Tag.objects.filter(group__code=group).exists()
    assert tag("skin_type:oily").name_zh == "油皮"


def test_single_choice_value_replaces_the_old_one(fan, owner):
    fan_tags_change(fan=fan, add=[tag("skin_type:dry")], source=TagSource.OWNER, actor=owner)
    fan_tags_change(fan=fan, add=[tag("skin_type:oily")], source=TagSource.OWNER, actor=owner)
    assert list(FanTag.objects.filter(fan=fan).values_list("tag__code", flat=True)) == ["oily"]
    actions = list(FanTagEvent.objects.filter(fan=fan).order_by("pk").values_list("action", "tag__code"))
    assert actions == [("add", "dry"), ("remove", "dry"), ("add", "oily")]


def test_database_forbids_two_values_in_a_single_choice_group(fan):
    oily, dry = tag("skin_type:oily"), tag("skin_type:dry")
    FanTag.objects.create(fan=fan, tag=oily, group=oily.group, single=True, source="owner")
    with pytest.raises(IntegrityError), transaction.atomic():
        FanTag.objects.create(fan=fan, tag=dry, group=dry.group, single=True, source="owner")


def test_adding_two_values_of_one_single_group_at_once_is_invalid(fan, owner):
    with pytest.raises(Invalid) as exc:
        fan_tags_change(
            fan=fan, add=[tag("skin_type:dry"), tag("skin_type:oily")], source="owner", actor=owner
        )
    assert exc.value.code == "single_choice"
    assert not FanTag.objects.filter(fan=fan).exists()


def test_multi_choice_groups_keep_every_value(fan, owner):
    fan_tags_change(
        fan=fan, add=[tag("skin_concern:acne"), tag("skin_concern:pores")], source="owner", actor=owner
    )
    assert FanTag.objects.filter(fan=fan).count() == 2


def test_assignment_records_source_actor_and_time(fan, staff):
    fan_tags_change(fan=fan, add=[tag("preference:value")], source=TagSource.STAFF, actor=staff)
    ft = FanTag.objects.get(fan=fan)
    assert (ft.source, ft.added_by, ft.created_at is not None) == ("staff", staff, True)


def test_bulk_add_is_idempotent_and_counts_only_new(shop, owner):
    fans = [FanFactory(shop=shop) for _ in range(5)]
    ids = [f.pk for f in fans]
    assert (
        fan_tags_bulk_add(fan_ids=ids[:3], tags=[tag("preference:looks")], source="owner", actor=owner) == 3
    )
    assert fan_tags_bulk_add(fan_ids=ids, tags=[tag("preference:looks")], source="owner", actor=owner) == 2
    assert FanTag.objects.filter(tag=tag("preference:looks")).count() == 5
    assert fan_tags_bulk_remove(fan_ids=ids, tags=[tag("preference:looks")], source="owner", actor=owner) == 5
    assert not FanTag.objects.exists()


def test_tag_strings_must_be_known(shop, other_shop):
    with pytest.raises(Invalid) as exc:
        tags_resolve(shop, ["skin_type:purple", "nonsense"])
    assert exc.value.code == "unknown_tag"
    assert tags_resolve(shop, ["skin_type:oily"])[0].code == "oily"


def test_fan_tag_ids_mirror_fan_tags_through_every_change(fan, owner, shop):
    others = [FanFactory(shop=shop) for _ in range(3)]
    ids = [fan.pk] + [f.pk for f in others]
    fan_tags_bulk_add(
        fan_ids=ids, tags=[tag("skin_type:dry"), tag("preference:value")], source="owner", actor=owner
    )
    fan_tags_change(fan=fan, add=[tag("skin_type:oily")], source="owner", actor=owner)  # replaces dry
    fan_tags_bulk_remove(fan_ids=ids[2:], tags=[tag("preference:value")], source="owner", actor=owner)
    for f in [fan, *others]:
        f.refresh_from_db()
        assert sorted(f.tag_ids) == sorted(FanTag.objects.filter(fan=f).values_list("tag_id", flat=True))
    assert tag("skin_type:oily").pk in fan.tag_ids and tag("skin_type:dry").pk not in fan.tag_ids
